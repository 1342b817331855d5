package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// The App manifest flow as GitHub runs it: the browser posts a manifest to
// the "new App" page, GitHub creates the App and sends the browser to the
// manifest's redirect_url with a code, and the code converts (once, without
// authentication) into the App's ID, private key and webhook secret.

// manifests is the fake's side of the flow.
type manifests struct {
	mu      sync.Mutex
	created []map[string]any // the manifests posted, in order
	orgs    []string         // the organization of each ("" for a user)
	codes   map[string]int   // unconverted code -> App index
}

// CreatedApps returns the manifests posted to the fake's "new App" page and
// the organization each App was created in ("" for the user's account).
func (s *Server) CreatedApps() ([]map[string]any, []string) {
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	return append([]map[string]any(nil), s.apps.created...), append([]string(nil), s.apps.orgs...)
}

// AppID is the ID the fake gives the n-th App created (from 0).
func AppID(n int) int64 { return int64(4200 + n) }

func (s *Server) newApp(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	if err := json.Unmarshal([]byte(r.PostFormValue("manifest")), &m); err != nil {
		http.Error(w, "Invalid GitHub App configuration: the manifest is not JSON", http.StatusUnprocessableEntity)
		return
	}
	back, err := url.Parse(fmt.Sprint(m["redirect_url"]))
	if err != nil || back.Host == "" {
		http.Error(w, "Invalid GitHub App configuration: redirect_url", http.StatusUnprocessableEntity)
		return
	}
	a := &s.apps
	a.mu.Lock()
	if a.codes == nil {
		a.codes = map[string]int{}
	}
	n := len(a.created)
	a.created = append(a.created, m)
	a.orgs = append(a.orgs, r.PathValue("org"))
	code := fmt.Sprintf("v1.manifest%d", n)
	a.codes[code] = n
	a.mu.Unlock()
	back.RawQuery = url.Values{"code": {code}, "state": {r.URL.Query().Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// convertManifest answers POST /app-manifests/{code}/conversions with a
// real private key, so that the App's start-up check passes against the
// fake.
func (s *Server) convertManifest(w http.ResponseWriter, r *http.Request) {
	key := "POST /app-manifests/" + r.PathValue("code") + "/conversions"
	s.mu.Lock()
	status, fail := s.failures[key] // FailNext: GitHub failing once
	delete(s.failures, key)
	s.mu.Unlock()
	if fail {
		writeJSON(w, status, map[string]string{"message": "Server Error"})
		return
	}
	a := &s.apps
	a.mu.Lock()
	n, ok := a.codes[r.PathValue("code")]
	delete(a.codes, r.PathValue("code"))
	var m map[string]any
	if ok {
		m = a.created[n]
	}
	a.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	slug := fmt.Sprint(m["name"])
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": AppID(n), "slug": slug, "name": slug, "html_url": "https://github.com/apps/" + slug,
		"webhook_secret": fmt.Sprintf("e340154128314309424b7c8e9032514%d", n),
		"pem":            string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		"client_id":      "Iv1.8a61f9b3a7aba766", "client_secret": "1726be1638095a19edd134c77bde3aa2ece1e5d8",
	})
}
