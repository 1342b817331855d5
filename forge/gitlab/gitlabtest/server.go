// Package gitlabtest is a fake GitLab REST API (v4) on httptest: one
// project with branches of files, members, merge requests, notes, award
// emoji and commit statuses, behind the real paths and JSON shapes of the
// endpoints the bot calls. It records every request.
package gitlabtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/forgetest/gitstore"
)

// Request is one recorded call.
type Request struct {
	Method, Path string
	Query        string // the raw query: which ref a read asked for
	Body         []byte
}

// Key is "METHOD path".
func (r Request) Key() string { return r.Method + " " + r.Path }

// MR is a merge request on the fake.
type MR struct {
	IID                int64
	Title, Description string
	Source, Target     string
	Labels             []string
	State              string
	MergeSHA           string
	Files              []string
}

// Note is a note on an issue or merge request.
type Note struct {
	ID     int64
	Body   string
	Author string
	MR     bool
	Thread int64
	Awards []string
}

// Status is a commit status.
type Status struct {
	ID                     int64
	SHA, Name, State       string
	Description, TargetURL string
}

// Server is the fake; Project is "group/name".
type Server struct {
	*httptest.Server
	Project string
	Token   string

	// GitCount counts what the git endpoint served.
	GitCount gitstore.Counter
	// Faults makes calls fail as GitLab does (forgetest.Faults).
	Faults forgetest.Faults

	mu       sync.Mutex
	requests []Request
	git      *gitstore.Repo
	members  map[string]int
	mrs      []*MR
	notes    []*Note
	statuses []*Status
	next     int64
}

// New starts a fake with files on branch main and the given token.
func New(t testing.TB, project, token string, files map[string]string) *Server {
	s := &Server{Project: project, Token: token, members: map[string]int{}, next: 100}
	git, err := gitstore.NewAt(filepath.Join(t.TempDir(), "repo.git"), files)
	if err != nil {
		t.Fatal(err)
	}
	s.git = git
	s.Server = httptest.NewServer(s.routes())
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the API URL for the client.
func (s *Server) BaseURL() string { return s.URL + "/api/v4" }

func (s *Server) id() int64 { s.next++; return s.next }

// SetMember sets a user's access level (10 guest ... 50 owner).
func (s *Server) SetMember(user string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[user] = level
}

// AddBranch points branch at from's head.
func (s *Server) AddBranch(branch, from string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	head, _ := s.git.Branch(from)
	s.git.SetBranch(branch, head)
}

// Requests returns the recorded requests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Reset forgets the recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// File returns a file on a branch.
func (s *Server) File(branch, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.git.File(branch, path)
}

// Parents returns a branch head's parents.
func (s *Server) Parents(branch string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, _ := s.git.Commit(s.head(branch))
	return c.Parents
}

// Head returns a branch's commit.
func (s *Server) Head(branch string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head(branch)
}

// Git is the repository the fake serves.
func (s *Server) Git() *gitstore.Repo { return s.git }

func (s *Server) head(branch string) string {
	sha, _ := s.git.Branch(branch)
	return sha
}

// MRs returns the merge requests.
func (s *Server) MRs() []MR {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MR, len(s.mrs))
	for i, m := range s.mrs {
		out[i] = *m
	}
	return out
}

// Notes returns the notes.
func (s *Server) Notes() []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Note, len(s.notes))
	for i, n := range s.notes {
		out[i] = *n
		out[i].Awards = append([]string(nil), n.Awards...)
	}
	return out
}

// AddNote puts a person's note on an issue or merge request and returns its id.
func (s *Server) AddNote(thread int64, mr bool, author, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := &Note{ID: s.id(), Body: body, Author: author, MR: mr, Thread: thread}
	s.notes = append(s.notes, n)
	return n.ID
}

// Statuses returns every commit status posted, in order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.statuses))
	for i, st := range s.statuses {
		out[i] = *st
	}
	return out
}

// Merge merges a merge request with a merge commit and returns its SHA.
func (s *Server) Merge(iid int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mrs {
		if m.IID != iid {
			continue
		}
		base, head := s.head(m.Target), s.head(m.Source)
		m.Files = s.git.ChangedFiles(base, head)
		hc, _ := s.git.Commit(head)
		sha := s.git.WriteCommit(hc.Tree, []string{base, head}, fmt.Sprintf("Merge branch '%s' into '%s'", m.Source, m.Target))
		s.git.SetBranch(m.Target, sha)
		m.State, m.MergeSHA = "merged", sha
		return sha
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg any) {
	writeJSON(w, code, map[string]any{"message": msg})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// git over HTTPS with the bot's token, as GitLab serves it.
	prefix := "/" + s.Project + ".git"
	if git, err := s.git.Handler(prefix); err == nil {
		mux.Handle(prefix+"/", gitstore.Guard(git, s.Token, &s.GitCount))
	}
	// The token's user (a start-up check reads it).
	mux.HandleFunc("GET /api/v4/user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("PRIVATE-TOKEN") != s.Token {
			fail(w, http.StatusUnauthorized, "401 Unauthorized")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": 9, "username": "gitops-bot", "bot": true})
	})
	h := func(pattern string, f http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" /api/v4/projects/{pid}"+path, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if fault, ok := s.Faults.Take(r.Method + " " + r.URL.EscapedPath()); ok {
				if fault.Done { // the work done, then the failure answered
					s.mu.Lock()
					s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: body})
					f(httptest.NewRecorder(), r)
					s.mu.Unlock()
				}
				fault.Write(w, "403 Forbidden")
				if fault.Status != 0 {
					return
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: body})
			if r.Header.Get("PRIVATE-TOKEN") != s.Token {
				fail(w, http.StatusUnauthorized, "401 Unauthorized")
				return
			}
			if r.PathValue("pid") != s.Project {
				fail(w, http.StatusNotFound, "404 Project Not Found")
				return
			}
			f(w, r)
		})
	}
	h("GET /repository/files/{path}/raw", s.rawFile)
	h("HEAD /repository/files/{path}", s.fileMeta)
	h("GET ", s.getProject)
	h("GET /repository/tree", s.tree)
	h("GET /members/all", s.listMembers)
	h("POST /repository/commits", s.createCommit)
	h("GET /repository/commits/{sha}", s.getCommit)
	h("POST /merge_requests", s.createMR)
	h("GET /merge_requests", s.listMRs)
	h("PUT /merge_requests/{iid}", s.updateMR)
	h("GET /merge_requests/{iid}", s.getMR)
	h("GET /merge_requests/{iid}/diffs", s.diffs)
	h("POST /issues/{iid}/notes", s.createNote(false))
	h("POST /merge_requests/{iid}/notes", s.createNote(true))
	h("GET /issues/{iid}/notes", s.listNotes(false))
	h("GET /merge_requests/{iid}/notes", s.listNotes(true))
	h("PUT /issues/{iid}/notes/{id}", s.updateNote)
	h("PUT /merge_requests/{iid}/notes/{id}", s.updateNote)
	h("POST /issues/{iid}/notes/{id}/award_emoji", s.award)
	h("POST /merge_requests/{iid}/notes/{id}/award_emoji", s.award)
	h("POST /statuses/{sha}", s.setStatus)
	h("GET /repository/commits/{sha}/statuses", s.listStatuses)
	h("GET /repository/merge_base", s.mergeBase)
	return mux
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": 5, "path_with_namespace": s.Project, "default_branch": "main",
		"http_url_to_repo": "http://gitlab.test/" + s.Project + ".git"})
}

func (s *Server) at(ref string) (map[string]string, bool) {
	return s.git.Files(ref)
}

// getCommit is the Commits API's single commit.
func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	c, ok := s.git.Commit(r.PathValue("sha"))
	if !ok {
		fail(w, http.StatusNotFound, "404 Commit Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": c.SHA, "short_id": c.SHA[:8], "title": c.Message, "message": c.Message, "parent_ids": c.Parents})
}

func (s *Server) rawFile(w http.ResponseWriter, r *http.Request) {
	files, ok := s.at(r.URL.Query().Get("ref"))
	content, found := files[r.PathValue("path")]
	if !ok || !found {
		fail(w, http.StatusNotFound, "404 File Not Found")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, content)
}

// fileMeta is the file metadata GitLab answers a HEAD with, in headers.
func (s *Server) fileMeta(w http.ResponseWriter, r *http.Request) {
	files, ok := s.at(r.URL.Query().Get("ref"))
	content, found := files[r.PathValue("path")]
	if !ok || !found {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Gitlab-File-Path", r.PathValue("path"))
	w.Header().Set("X-Gitlab-Size", strconv.Itoa(len(content)))
	w.Header().Set("X-Gitlab-Blob-Id", gitstore.BlobSHA(content))
	w.Header().Set("X-Gitlab-Ref", r.URL.Query().Get("ref"))
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request) {
	files, ok := s.at(r.URL.Query().Get("ref"))
	if !ok {
		fail(w, http.StatusNotFound, "404 Tree Not Found")
		return
	}
	dir := strings.Trim(r.URL.Query().Get("path"), "/")
	var paths []string
	for p := range files {
		if dir == "" || strings.HasPrefix(p, dir+"/") {
			paths = append(paths, p)
		}
	}
	if dir != "" && len(paths) == 0 {
		fail(w, http.StatusNotFound, "404 Tree Not Found")
		return
	}
	sort.Strings(paths)
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if per <= 0 {
		per = 20
	}
	if page <= 0 {
		page = 1
	}
	out := []map[string]any{}
	for i := (page - 1) * per; i < len(paths) && i < page*per; i++ {
		out = append(out, map[string]any{"id": gitstore.BlobSHA(files[paths[i]]), "name": paths[i][strings.LastIndex(paths[i], "/")+1:], "type": "blob", "path": paths[i], "mode": "100644"})
	}
	if page*per < len(paths) {
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(r.URL.Query().Get("query"))
	out := []map[string]any{}
	for u, level := range s.members {
		if q == "" || strings.Contains(strings.ToLower(u), q) {
			out = append(out, map[string]any{"id": len(u), "username": u, "access_level": level, "state": "active"})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createCommit(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Branch        string `json:"branch"`
		StartBranch   string `json:"start_branch"`
		CommitMessage string `json:"commit_message"`
		Force         bool   `json:"force"`
		Actions       []struct {
			Action   string  `json:"action"`
			FilePath string  `json:"file_path"`
			Content  *string `json:"content"`
		} `json:"actions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Branch == "" || in.CommitMessage == "" || len(in.Actions) == 0 {
		fail(w, http.StatusBadRequest, "branch, commit_message and actions are required")
		return
	}
	if in.Branch == "main" {
		fail(w, http.StatusForbidden, "You are not allowed to push into this branch")
		return
	}
	start := in.Branch
	if _, exists := s.git.Branch(in.Branch); !exists || in.Force {
		start = in.StartBranch
	}
	base, ok := s.git.Branch(start)
	if !ok {
		fail(w, http.StatusBadRequest, "You can only create or edit files when you are on a branch")
		return
	}
	changes := map[string]*string{}
	for _, a := range in.Actions {
		_, exists := s.git.File(base, a.FilePath)
		switch {
		case a.Action == "create" && exists:
			fail(w, http.StatusBadRequest, "A file with this name already exists")
			return
		case (a.Action == "update" || a.Action == "delete") && !exists:
			fail(w, http.StatusBadRequest, "A file with this name doesn't exist")
			return
		case a.Action == "delete":
			changes[a.FilePath] = nil
		case a.Content != nil:
			changes[a.FilePath] = a.Content
		}
	}
	bc, _ := s.git.Commit(base)
	tree, err := s.git.UpdateTree(bc.Tree, changes)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	sha := s.git.WriteCommit(tree, []string{base}, in.CommitMessage)
	s.git.SetBranch(in.Branch, sha)
	writeJSON(w, http.StatusCreated, map[string]any{"id": sha, "short_id": sha[:8], "title": in.CommitMessage, "message": in.CommitMessage})
}

func (s *Server) mrJSON(m *MR) map[string]any {
	head, _ := s.git.Branch(m.Source)
	return map[string]any{"id": m.IID + 1000, "iid": m.IID, "title": m.Title, "description": m.Description, "state": m.State, "sha": head,
		"source_branch": m.Source, "target_branch": m.Target, "merge_commit_sha": m.MergeSHA, "labels": m.Labels,
		"web_url": fmt.Sprintf("http://gitlab.test/%s/-/merge_requests/%d", s.Project, m.IID)}
}

func (s *Server) createMR(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title        string `json:"title"`
		Description  string `json:"description"`
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		Labels       string `json:"labels"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	if _, ok := s.git.Branch(in.SourceBranch); !ok || in.Title == "" {
		fail(w, http.StatusBadRequest, "source_branch does not exist or title is missing")
		return
	}
	for _, m := range s.mrs {
		if m.Source == in.SourceBranch && m.State == "opened" {
			fail(w, http.StatusConflict, []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", m.IID)})
			return
		}
	}
	m := &MR{IID: int64(len(s.mrs) + 1), Title: in.Title, Description: in.Description, Source: in.SourceBranch, Target: in.TargetBranch, State: "opened"}
	if in.Labels != "" {
		m.Labels = strings.Split(in.Labels, ",")
	}
	s.mrs = append(s.mrs, m)
	writeJSON(w, http.StatusCreated, s.mrJSON(m))
}

func (s *Server) findMR(r *http.Request) *MR {
	iid, _ := strconv.ParseInt(r.PathValue("iid"), 10, 64)
	for _, m := range s.mrs {
		if m.IID == iid {
			return m
		}
	}
	return nil
}

func (s *Server) listMRs(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for _, m := range s.mrs {
		if b := r.URL.Query().Get("source_branch"); b != "" && b != m.Source {
			continue
		}
		if st := r.URL.Query().Get("state"); st != "" && st != m.State {
			continue
		}
		out = append(out, s.mrJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) updateMR(w http.ResponseWriter, r *http.Request) {
	m := s.findMR(r)
	if m == nil {
		fail(w, http.StatusNotFound, "404 Not found")
		return
	}
	var in struct{ Title, Description *string }
	json.NewDecoder(r.Body).Decode(&in)
	if in.Title != nil {
		m.Title = *in.Title
	}
	if in.Description != nil {
		m.Description = *in.Description
	}
	writeJSON(w, http.StatusOK, s.mrJSON(m))
}

func (s *Server) getMR(w http.ResponseWriter, r *http.Request) {
	if m := s.findMR(r); m != nil {
		writeJSON(w, http.StatusOK, s.mrJSON(m))
		return
	}
	fail(w, http.StatusNotFound, "404 Not found")
}

func (s *Server) diffs(w http.ResponseWriter, r *http.Request) {
	m := s.findMR(r)
	if m == nil {
		fail(w, http.StatusNotFound, "404 Not found")
		return
	}
	files := m.Files
	if m.State == "opened" { // what the source branch changes, as it is now
		files = s.git.ChangedFiles(s.head(m.Target), s.head(m.Source))
	}
	out := []map[string]any{}
	for _, f := range files {
		out = append(out, map[string]any{"old_path": f, "new_path": f, "new_file": true})
	}
	writeJSON(w, http.StatusOK, out)
}

func noteJSON(n *Note) map[string]any {
	return map[string]any{"id": n.ID, "body": n.Body, "author": map[string]any{"username": n.Author}}
}

func (s *Server) createNote(mr bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Body string }
		json.NewDecoder(r.Body).Decode(&in)
		if in.Body == "" {
			fail(w, http.StatusBadRequest, "body is missing")
			return
		}
		iid, _ := strconv.ParseInt(r.PathValue("iid"), 10, 64)
		n := &Note{ID: s.id(), Body: in.Body, Author: "gitops-bot", MR: mr, Thread: iid}
		s.notes = append(s.notes, n)
		writeJSON(w, http.StatusCreated, noteJSON(n))
	}
}

func (s *Server) listNotes(mr bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		iid, _ := strconv.ParseInt(r.PathValue("iid"), 10, 64)
		out := []map[string]any{}
		for _, n := range s.notes {
			if n.MR == mr && n.Thread == iid {
				out = append(out, noteJSON(n))
			}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) updateNote(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct{ Body string }
	json.NewDecoder(r.Body).Decode(&in)
	for _, n := range s.notes {
		if n.ID == id {
			n.Body = in.Body
			writeJSON(w, http.StatusOK, noteJSON(n))
			return
		}
	}
	fail(w, http.StatusNotFound, "404 Not found")
}

func (s *Server) award(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct{ Name string }
	json.NewDecoder(r.Body).Decode(&in)
	for _, n := range s.notes {
		if n.ID != id {
			continue
		}
		for _, a := range n.Awards {
			if a == in.Name {
				fail(w, http.StatusBadRequest, map[string]any{"base": []string{"Award emoji has already been taken"}})
				return
			}
		}
		n.Awards = append(n.Awards, in.Name)
		writeJSON(w, http.StatusCreated, map[string]any{"id": s.id(), "name": in.Name})
		return
	}
	fail(w, http.StatusNotFound, "404 Not found")
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State       string `json:"state"`
		Name        string `json:"name"`
		Description string `json:"description"`
		TargetURL   string `json:"target_url"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	sha := r.PathValue("sha")
	if _, ok := s.git.Commit(sha); !ok {
		fail(w, http.StatusNotFound, "404 References Not Found")
		return
	}
	switch in.State {
	case "pending", "running", "success", "failed", "canceled", "skipped":
	default:
		fail(w, http.StatusBadRequest, "state does not have a valid value")
		return
	}
	if len(in.Description) > 255 {
		fail(w, http.StatusBadRequest, "description is too long (maximum is 255 characters)")
		return
	}
	// GitLab moves a status through a state machine: the same pending or
	// running state again is no transition, and it answers 400.
	for i := len(s.statuses) - 1; i >= 0; i-- {
		if prev := s.statuses[i]; prev.SHA == sha && prev.Name == in.Name {
			if event := map[string]string{"pending": "enqueue", "running": "run"}[in.State]; event != "" && prev.State == in.State {
				fail(w, http.StatusBadRequest, fmt.Sprintf("Cannot transition status via :%s from :%s (Reason(s): Status cannot transition via \"%s\")", event, prev.State, event))
				return
			}
			break
		}
	}
	st := &Status{ID: s.id(), SHA: sha, Name: in.Name, State: in.State, Description: in.Description, TargetURL: in.TargetURL}
	s.statuses = append(s.statuses, st)
	writeJSON(w, http.StatusCreated, map[string]any{"id": st.ID, "sha": sha, "name": st.Name, "status": st.State, "description": st.Description, "target_url": st.TargetURL})
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for i := len(s.statuses) - 1; i >= 0; i-- { // newest first, as GitLab lists them
		st := s.statuses[i]
		if st.SHA == r.PathValue("sha") {
			out = append(out, map[string]any{"id": st.ID, "sha": st.SHA, "name": st.Name, "status": st.State, "description": st.Description})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) mergeBase(w http.ResponseWriter, r *http.Request) {
	refs := r.URL.Query()["refs[]"]
	if len(refs) != 2 {
		fail(w, http.StatusBadRequest, "Provide exactly two refs")
		return
	}
	a, b := refs[0], refs[1]
	if base, ok := s.git.MergeBase(a, b); ok {
		writeJSON(w, http.StatusOK, map[string]any{"id": base})
		return
	}
	fail(w, http.StatusNotFound, "Merge Base Not Found")
}
