// Package forge holds the Git-host-neutral types the bot works with and the
// small interfaces each host (GitHub, GitLab, a local repository) implements.
// Nothing outside forge/ sees a host's client library.
package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned (wrapped) when a file, ref or object does not exist.
var ErrNotFound = errors.New("not found")

// MaxFileBytes bounds a file the bot reads from a repository: manifests,
// values and charts are far smaller; a larger file is refused before it is
// read, not loaded whole.
const MaxFileBytes = 4 << 20

// TooLarge: a file over a cap, refused unread.
type TooLarge struct {
	Path      string
	Size, Max int64
}

func (e *TooLarge) Error() string {
	return fmt.Sprintf("%s is %d bytes, more than the %d bytes I read of such a file", e.Path, e.Size, e.Max)
}

// CheckSize refuses a file of size over MaxFileBytes.
func CheckSize(path string, size int64) error {
	if size > MaxFileBytes {
		return &TooLarge{Path: path, Size: size, Max: MaxFileBytes}
	}
	return nil
}

// ErrNoChange is returned (wrapped) by Propose when the files already read
// exactly as proposed on the base branch.
var ErrNoChange = errors.New("the base branch already has exactly these files")

// Repo names a repository on a host.
type Repo struct {
	Host          string // "github", "gitlab", "local"
	Owner         string
	Name          string
	DefaultBranch string
	CloneURL      string // https URL that Argo CD / Flux would use to fetch it
	// Installation is the GitHub App installation that reaches the
	// repository (0 elsewhere); stored with verifications to reach it again.
	Installation int64
}

// FullName is "owner/name".
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// File is one file of a change. Delete removes it. Update says the file
// exists on the base branch (hosts whose API tells a new file from a
// changed one use it).
type File struct {
	Path    string
	Content []byte
	Delete  bool
	Update  bool
}

// Change is everything a pull request needs: one commit of Files on top of
// Base, pushed to Branch.
type Change struct {
	Branch  string
	Base    string // branch the PR targets; the commit's parent is its head
	Title   string
	Body    string
	Message string // commit message
	Files   []File
	Labels  []string
}

// PullRequest is what Propose opened or updated.
type PullRequest struct {
	Number  int
	URL     string
	Branch  string
	Head    string // SHA of the commit on Branch
	Created bool   // false when an existing branch and PR were updated
	Diff    string // unified diff, where the host computes it cheaply (local)
	// Warnings: what did not work once the pull request existed (labels),
	// for the reply to say.
	Warnings []string
}

// LeftBehind is a failure after which something the bot created remains
// (a branch whose pull request could not be opened, and could not be
// removed): the reply must not say "nothing was changed".
type LeftBehind struct {
	What string // "branch gitops-bot/deploy-web-staging"
	Err  error
}

func (e *LeftBehind) Error() string {
	return fmt.Sprintf("%v (%s remains: commenting again reuses it)", e.Err, e.What)
}

func (e *LeftBehind) Unwrap() error { return e.Err }

// Permission is a user's access level on a repository, ordered.
type Permission int

const (
	PermNone Permission = iota
	PermRead
	PermTriage
	PermWrite
	PermMaintain
	PermAdmin
)

var permNames = []string{"none", "read", "triage", "write", "maintain", "admin"}

func (p Permission) String() string {
	if p < 0 || int(p) >= len(permNames) {
		return fmt.Sprintf("Permission(%d)", int(p))
	}
	return permNames[p]
}

// ParsePermission reads a permission name as GitHub spells it.
func ParsePermission(s string) (Permission, error) {
	for i, n := range permNames {
		if n == s {
			return Permission(i), nil
		}
	}
	return PermNone, fmt.Errorf("unknown permission %q (want one of none, read, triage, write, maintain, admin)", s)
}

// CommentRef points at one comment, for reactions.
type CommentRef struct {
	Thread int   // issue or pull request number
	ID     int64 // the comment's id
	PR     bool  // the thread is a pull request (GitLab keeps them apart)
}

// Reply is a message on a thread. Key makes it an upsert: a reply with the
// same key on the same thread is edited instead of posted again.
type Reply struct {
	Thread int
	PR     bool // the thread is a pull request (GitLab keeps them apart)
	Key    string
	Body   string
	// New says the caller knows no reply with Key exists yet (the comment it
	// answers was seen for the first time), which saves the host a lookup.
	New bool
}

// Reader reads a repository at a ref.
type Reader interface {
	// ReadFile returns the content of path at ref, or an error wrapping ErrNotFound.
	ReadFile(ctx context.Context, r Repo, ref, path string) ([]byte, error)
	// ListFiles lists the files (recursively) under dir at ref, as paths from the repository root.
	ListFiles(ctx context.Context, r Repo, ref, dir string) ([]string, error)
}

// Authorizer tells what a user may do.
type Authorizer interface {
	Permission(ctx context.Context, r Repo, user string) (Permission, error)
	// TeamMember reports whether user belongs to team ("org/team-slug").
	TeamMember(ctx context.Context, r Repo, team, user string) (bool, error)
}

// Proposer opens or updates a pull request. Idempotent per Change.Branch.
type Proposer interface {
	Propose(ctx context.Context, r Repo, c Change) (*PullRequest, error)
}

// Responder talks on threads.
type Responder interface {
	Reply(ctx context.Context, r Repo, m Reply) error
	// React adds a reaction to a comment. first is false when the bot had
	// already reacted there, which means the comment was handled before.
	React(ctx context.Context, r Repo, c CommentRef, reaction string) (first bool, err error)
}

// CommentHandler is what a host's webhook hands new comments to.
type CommentHandler interface {
	HandleComment(ctx context.Context, f Forge, ev CommentEvent) error
}

// Forge is a host, as the comment flow uses it.
type Forge interface {
	Reader
	Authorizer
	Proposer
	Responder
	Pulls
}

// Check is a verification report on a commit: a check run on GitHub, a
// commit status on GitLab. Reported in place: queued, in_progress, completed.
type Check struct {
	ID         int64  // the host's id; 0 until created
	Name       string // e.g. "gitops-bot/sync: staging"
	ExternalID string // the bot's key, to find the check again
	Status     string // queued, in_progress, completed
	Conclusion string // with completed: success, failure, timed_out, neutral, cancelled
	Title      string
	Summary    string // markdown
	Text       string // markdown, details
	DetailsURL string
	// Annotations mark lines of the repository's files (GitHub shows them
	// on the pull request's diff; a commit status has none).
	Annotations []Annotation
}

// Annotation is a note on lines of a file, as GitHub's check runs take
// them.
type Annotation struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Level     string `json:"annotation_level"` // notice, warning, failure
	Message   string `json:"message"`
}

// Checks is what the verifier needs of a host.
type Checks interface {
	// Report creates c on sha (when c.ID is 0, unless a check with the same
	// name and external ID is already there) or updates it, and returns it
	// with its ID.
	Report(ctx context.Context, r Repo, sha string, c Check) (Check, error)
	// GetCheck reads a check of a commit back, to learn whether it was completed.
	GetCheck(ctx context.Context, r Repo, sha string, id int64) (Check, error)
	// Contains reports whether commit descendant has ancestor in its history
	// (true when they are the same commit).
	Contains(ctx context.Context, r Repo, descendant, ancestor string) (bool, error)
}

// Connector reaches a repository's host again, for work that outlives the
// event that started it (verifications resumed after a restart).
type Connector interface {
	Checks(ctx context.Context, r Repo) (Checks, error)
}

// PullInfo is what the bot reads of a pull request after it is merged.
type PullInfo struct {
	Number   int
	Merged   bool
	MergeSHA string
	Base     string
	Body     string
	// Head is the pull request's newest head commit, as the host has it
	// now.
	Head string
}

// Pulls reads pull requests.
type Pulls interface {
	Pull(ctx context.Context, r Repo, number int) (PullInfo, error)
	// PullFiles lists the paths a pull request changes.
	PullFiles(ctx context.Context, r Repo, number int) ([]string, error)
	// FirstParent is the commit a merge commit was made on.
	FirstParent(ctx context.Context, r Repo, sha string) (string, error)
	// MergedPulls lists up to n recently merged pull requests, newest first.
	MergedPulls(ctx context.Context, r Repo, n int) ([]PullInfo, error)
}

// MergeEvent says a pull request was merged, or that its verification is
// to be run again (a check's re-run button, a /verify comment).
type MergeEvent struct {
	Repo Repo
	Pull PullInfo
	// Env, when set, limits a re-run to one environment.
	Env string
}

// MergeForge is the host as the merge flow uses it.
type MergeForge interface {
	Reader
	Pulls
	Responder
}

// MergeHandler is what a host's webhook hands merges and re-runs to.
type MergeHandler interface {
	HandleMerge(ctx context.Context, f MergeForge, ev MergeEvent) error
}

// PullEvent says a pull request was opened, reopened or got new commits.
type PullEvent struct {
	Repo    Repo
	Number  int
	HeadSHA string
	// Base is the commit (GitHub) or branch (GitLab) the pull request
	// goes into.
	Base string
	// Fork: the head is another repository's.
	Fork bool
}

// PullForge is the host as the pull-request flow uses it: the files of
// the head commit, the pull request's files, and checks on the head.
type PullForge interface {
	Reader
	Pulls
	Checks
}

// PullHandler is what a host's webhook hands new and updated pull
// requests to (the check of a changed .gitops-bot.yaml).
type PullHandler interface {
	HandlePull(ctx context.Context, f PullForge, ev PullEvent) error
}

// CommentEvent is a new comment on an issue or pull request, decoded by the
// host's webhook handler.
type CommentEvent struct {
	Repo        Repo
	Thread      int
	IsPR        bool
	CommentID   int64
	Body        string
	Author      string
	AuthorIsBot bool
	DeliveryID  string
	// Closed: the issue, or the pull request without merging it, is
	// closed (a merged pull request is not: /rollback and /verify act on it).
	Closed bool
}

// Opener is what a host can do for a change that belongs in another
// repository: reach that repository, when the bot is installed there.
type Opener interface {
	// OpenRepo returns the forge and description of the repository at url,
	// or an error wrapping ErrNotFound when the bot cannot reach it.
	OpenRepo(ctx context.Context, url string) (Forge, Repo, error)
}

// Connectors picks the connector of a repository's host.
type Connectors map[string]Connector

// Checks implements Connector.
func (c Connectors) Checks(ctx context.Context, r Repo) (Checks, error) {
	k, ok := c[r.Host]
	if !ok {
		return nil, fmt.Errorf("no connection to %s for %s", r.Host, r.FullName())
	}
	return k.Checks(ctx, r)
}

// GitRemote is where git fetches a repository from, with the credentials
// of the host's API (a GitHub App installation token, a GitLab token).
type GitRemote struct {
	URL                string
	Username, Password string
}

// Fetcher is a host whose repositories can be fetched over git, for the
// bot's local mirrors.
type Fetcher interface {
	GitRemote(ctx context.Context, r Repo) (GitRemote, error)
}

// HeadTold is a host that can be told a branch's head (its commit and that
// commit's tree) by what read the repository, the mirror: a change is then
// based on the commit it was computed on, and the host is not asked again.
type HeadTold interface {
	TellHead(branch, commit, tree string)
}

// PathReading is a host that can read along given paths only, without
// listing the whole repository: what the bot falls back to when a
// repository's mirror cannot be fetched.
type PathReading interface {
	PathReader() Reader
}

// Entry is a file of a tree and the SHA of its content.
type Entry struct {
	Path, Blob string
}

// EntryLister is a Reader that also knows each file's blob SHA, so what is
// derived from a file can be cached by its content.
type EntryLister interface {
	ListEntries(ctx context.Context, r Repo, ref, dir string) ([]Entry, error)
}

// PullRef is how a host's markdown links one of the repository's pull
// requests: "!N" on GitLab, where "#N" names an issue, "#N" elsewhere.
func (r Repo) PullRef(n int) string {
	if r.Host == "gitlab" {
		return fmt.Sprintf("!%d", n)
	}
	return fmt.Sprintf("#%d", n)
}

// ThreadRef links the thread a comment was made on: a pull request, or an
// issue ("#N" on every host).
func (r Repo) ThreadRef(n int, isPR bool) string {
	if isPR {
		return r.PullRef(n)
	}
	return fmt.Sprintf("#%d", n)
}

// ThreadURL is the web address of a thread (issue or pull request), from
// the clone URL; "" when the repository has no web address (local).
func (r Repo) ThreadURL(n int, isPR bool) string {
	web := strings.TrimSuffix(r.CloneURL, ".git")
	if !strings.HasPrefix(web, "https://") && !strings.HasPrefix(web, "http://") || n <= 0 {
		return ""
	}
	switch {
	case r.Host == "gitlab" && isPR:
		return fmt.Sprintf("%s/-/merge_requests/%d", web, n)
	case r.Host == "gitlab":
		return fmt.Sprintf("%s/-/issues/%d", web, n)
	case isPR:
		return fmt.Sprintf("%s/pull/%d", web, n)
	}
	return fmt.Sprintf("%s/issues/%d", web, n)
}
