package chartrender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// ErrNoChart is the source's own answer that it has no such chart or
// version, as against not being able to ask it.
var ErrNoChart = errors.New("no such chart")

// Resolve is the version of chart name that version (exact, or a semver
// range as a HelmRelease or an Application gives it) picks today, as the
// controllers pick it: the newest the repository's index lists, or the
// newest tag of the OCI registry. Nothing is downloaded but the index or
// the tag list. An error wrapping ErrNoChart is the source saying no.
func (r *Renderer) Resolve(ctx context.Context, repoURL, name, version string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if !strings.HasPrefix(repoURL, "oci://") {
		picked, _, err := r.inIndex(ctx, repoURL, name, version)
		return picked, err
	}
	ref := strings.TrimPrefix(strings.TrimSuffix(repoURL, "/"), "oci://") + "/" + name
	hc := &http.Client{Transport: r.client.Transport, Timeout: r.timeout}
	client, err := registry.NewClient(registry.ClientOptHTTPClient(hc))
	if err != nil {
		return "", err
	}
	tag, err := pickTag(client, ref, version)
	var answer *errcode.ErrorResponse
	if errors.As(err, &answer) && answer.StatusCode == http.StatusNotFound {
		// NAME_UNKNOWN: the registry has no repository of that name.
		return "", fmt.Errorf("%w: the registry has no chart %s", ErrNoChart, ref)
	}
	return tag, err
}

// noVersion says that no version of name in source matches version,
// naming the newest few it has.
func noVersion(name, version, source string, have []string) error {
	if len(have) == 0 {
		return fmt.Errorf("%w: %s has no chart %s", ErrNoChart, source, name)
	}
	sorted := make([]*semver.Version, 0, len(have))
	for _, h := range have {
		if v, err := semver.NewVersion(h); err == nil {
			sorted = append(sorted, v)
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(sorted)))
	var newest []string
	for _, v := range sorted[:min(5, len(sorted))] {
		newest = append(newest, v.Original())
	}
	return fmt.Errorf("%w: no version of %s in %s matches %s; the newest are %s", ErrNoChart, name, source, version, strings.Join(newest, ", "))
}
