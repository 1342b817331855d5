package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	gosync "sync"

	fluxfs "github.com/fluxcd/pkg/kustomize/filesys"
	"k8s.io/utils/lru"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	sigsyaml "sigs.k8s.io/yaml"
)

// Options configure a Renderer.
type Options struct {
	Tools []Tool
	// RepoURL is this repository as appliers name it; "" when unknown
	// (then a source whose path this repository has is taken as this one).
	RepoURL string
	// Charts fetches charts kept outside the repository; nil renders none
	// of them (each such applier says so).
	Charts Charts
	// Clusters are Argo CD's clusters, for the clusters generator.
	Clusters []Cluster
	// Cache keeps appliers' renders across renderers (nil: the
	// renderer's own).
	Cache *Cache
}

// Cache keeps rendered appliers, each with what its render read, so that
// a render of another commit renders again only what changed.
type Cache struct{ lru *lru.Cache }

// NewCache keeps up to n appliers' renders.
func NewCache(n int) *Cache { return &Cache{lru: lru.New(n)} }

// Cluster is a cluster Argo CD deploys to.
type Cluster struct {
	Name, Server string
	Labels       map[string]string
	Annotations  map[string]string
}

// Renderer renders environments and keeps what it rendered: an
// environment by its tree and directory, an applier by its object and the
// content of what it read.
type Renderer struct {
	opts  Options
	envs  *lru.Cache // tree ID + env -> *Env
	appls *lru.Cache // applier key -> cachedExpansion

	mu    gosync.Mutex
	stats Stats
}

// Stats count what a renderer did.
type Stats struct {
	Renders  int // appliers rendered
	Reused   int // appliers whose inputs had not changed
	EnvsHits int // environments served whole from the cache
}

// New returns a renderer.
func New(o Options) *Renderer {
	if o.Cache == nil {
		o.Cache = NewCache(20000)
	}
	return &Renderer{opts: o, envs: lru.New(64), appls: o.Cache.lru}
}

// Stats is what the renderer did so far.
func (r *Renderer) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Spec names an environment to render.
type Spec struct {
	Name, Dir string
	Tool      string // the tool that applies Dir ("flux", "argocd")
}

// Env renders one environment of tree t.
func (r *Renderer) Env(ctx context.Context, t *Tree, s Spec) (*Env, error) {
	key := ""
	if t.ID != "" {
		key = t.ID + "\x00" + s.Name + "\x00" + s.Dir + "\x00" + s.Tool
		if v, ok := r.envs.Get(key); ok {
			r.mu.Lock()
			r.stats.EnvsHits++
			r.mu.Unlock()
			return v.(*Env), nil
		}
	}
	env, err := r.environment(ctx, t, s)
	if err != nil {
		return nil, err
	}
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("reading the repository: %w", err)
	}
	if key != "" {
		r.envs.Add(key, env)
	}
	return env, nil
}

func (r *Renderer) tool(name string) Tool {
	for _, t := range r.opts.Tools {
		if t.Name() == name {
			return t
		}
	}
	if len(r.opts.Tools) > 0 && name == "" {
		return r.opts.Tools[0]
	}
	return nil
}

// Build is one environment's render in progress, as a tool sees it.
type Build struct {
	Tree *Tree
	Env  *Env // what is rendered so far
	// Final: the render waits no longer; an applier whose dependencies are
	// missing renders with what there is or fails.
	Final bool

	ctx    context.Context // the render's, for what a build fetches (charts)
	opts   *Options
	inputs map[string]bool   // files read by the applier rendering
	deps   map[string]string // objects it looked up -> what they were
}

// Options are the renderer's options.
func (b *Build) Options() *Options { return b.opts }

func (b *Build) recordInputs(fn func()) []string {
	b.inputs = map[string]bool{}
	fn()
	out := make([]string, 0, len(b.inputs))
	for p := range b.inputs {
		out = append(out, p)
	}
	sort.Strings(out)
	b.inputs = nil
	return out
}

// Read reads a repository file, as an input of the applier rendering.
func (b *Build) Read(p string) ([]byte, error) {
	p = clean(p)
	if b.inputs != nil {
		b.inputs[p] = true
	}
	return b.Tree.Read(p)
}

// Under lists the files under dir; the listing is an input (a file added
// there renders the applier again).
func (b *Build) Under(dir string) []string {
	dir = clean(dir)
	if b.inputs != nil {
		b.inputs[dir+"/"] = true
	}
	return b.Tree.Under(dir)
}

// ThisRepo reports whether url names this repository.
func (b *Build) ThisRepo(url string) bool {
	if b.opts.RepoURL == "" {
		return true
	}
	return NormalURL(url) == NormalURL(b.opts.RepoURL)
}

// NormalURL is a git URL without scheme, user, ".git" and case, so that
// https://github.com/a/b.git and git@github.com:a/b name the same repository.
func NormalURL(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	for _, p := range []string{"https://", "http://", "ssh://", "git://"} {
		u = strings.TrimPrefix(u, p)
	}
	if at := strings.Index(u, "@"); at >= 0 && at < strings.Index(u+"/", "/") {
		u = u[at+1:]
	}
	u = strings.Replace(u, ":", "/", 1)
	return strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
}

// Find returns the rendered object of kind (any namespace when namespace
// is "") and name, if the environment has it so far. What an applier
// finds is part of what its render depends on.
func (b *Build) Find(kind, namespace, name string) *Object {
	o := b.find(kind, namespace, name)
	if b.deps != nil {
		k := kind + "/" + namespace + "/" + name
		b.deps[k] = ""
		if o != nil {
			b.deps[k] = hashOf(jsonOf(o.Obj))
		}
	}
	return o
}

func (b *Build) find(kind, namespace, name string) *Object {
	for i := range b.Env.Objects {
		o := &b.Env.Objects[i]
		if o.Kind() == kind && o.Name() == name && (namespace == "" || o.Namespace() == namespace) {
			return o
		}
	}
	return nil
}

func (b *Build) lookup(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return ""
	}
	if o := b.find(parts[0], parts[1], parts[2]); o != nil {
		return hashOf(jsonOf(o.Obj))
	}
	return ""
}

// KustomizationFile is the kustomization file of dir, or "".
func (b *Build) KustomizationFile(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if p := path.Join(clean(dir), n); b.Tree.Exists(p) {
			return p
		}
	}
	return ""
}

// KustomizeOptions say how a kustomization is built.
type KustomizeOptions struct {
	// Kustomization replaces the content of dir's kustomization file (or
	// is written as kustomization.yaml): a controller's own fields merged in.
	Kustomization []byte
	// RootOnly restricts loading to the kustomization's directory, as
	// kustomize does by default (Argo CD); Flux loads from the whole
	// repository.
	RootOnly bool
	// Helm inflates helmCharts, as kustomize with --enable-helm does (Argo
	// CD's kustomize.buildOptions in the repositories that use them);
	// without it a kustomization with helmCharts fails as kustomize-
	// controller's build fails.
	Helm bool
}

// originAnnotation is what kustomize writes with buildMetadata
// [originAnnotations]: the file each resource comes from.
const originAnnotation = "config.kubernetes.io/origin"

// Kustomize builds the kustomization in dir (repository path) as the
// controllers' kustomize does (plugins off, helm off), and returns its
// objects with the file each comes from.
func (b *Build) Kustomize(dir string, o KustomizeOptions) ([]Object, error) {
	dir = clean(dir)
	rec := b.Tree.recorder()
	var under filesys.FileSystem = rec
	var helm *inflater
	if o.Helm {
		helm = newInflater(b.context(), b, rec)
		under = helm
	}
	fs := fluxfs.MakeFsInMemory(under)
	kfile := b.KustomizationFile(dir)
	content := o.Kustomization
	if content == nil && kfile != "" {
		var err error
		if content, err = b.Read(kfile); err != nil {
			return nil, err
		}
	}
	if kfile == "" {
		kfile = path.Join(dir, konfig.DefaultKustomizationFileName())
	}
	if helm != nil {
		var err error
		if content, err = helm.rewrite(kfile, content); err != nil {
			return nil, err
		}
	}
	content, own, err := withOrigins(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kfile, err)
	}
	if err := fs.WriteFile("/"+kfile, content); err != nil {
		return nil, err
	}
	res, err := build(fs, "/"+dir, o.RootOnly)
	custom := false
	for _, p := range rec.inputs() {
		if b.inputs != nil {
			b.inputs[p] = true
		}
		if konfigName(p) {
			if c, _ := b.Tree.Read(p); strings.Contains(string(c), "openapi:") {
				custom = true
			}
		}
	}
	if custom {
		// A kustomization's own OpenAPI schema is global to kustomize:
		// the next build starts from the built-in one again.
		kustomizeMu.Lock()
		openapi.ResetOpenAPI()
		kustomizeMu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("kustomize build of %s: %s", dir, strings.ReplaceAll(err.Error(), "/"+dir+"/", dir+"/"))
	}
	out := make([]Object, 0, len(res))
	for _, m := range res {
		obj := Object{Obj: m}
		if meta, _ := m["metadata"].(map[string]any); meta != nil {
			if ann, _ := meta["annotations"].(map[string]any); ann != nil {
				if s, _ := ann[originAnnotation].(string); s != "" {
					var origin struct {
						Path string `json:"path"`
					}
					if sigsyaml.Unmarshal([]byte(s), &origin) == nil && origin.Path != "" {
						obj.File = clean(path.Join(dir, origin.Path))
					}
					if !own {
						delete(ann, originAnnotation)
						if len(ann) == 0 {
							delete(meta, "annotations")
						}
					}
				}
			}
		}
		if helm != nil {
			if made := helm.made[obj.File]; made != nil {
				obj.File, obj.Inflated = made.Kustomization, made
			}
		}
		out = append(out, obj)
	}
	return out, nil
}

func (b *Build) context() context.Context {
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// build runs kustomize with the options kustomize-controller's build
// (fluxcd/pkg/kustomize.Build) uses: load restrictions off for Flux, on
// for Argo CD, plugins off (no exec, no helm). That function also resets
// kustomize's OpenAPI schema before every build, parsing the built-in one
// again (90 ms and 100 MB of garbage a build); here the schema is reset
// only after a build that read a kustomization with a schema of its own.
func build(fs filesys.FileSystem, dir string, rootOnly bool) ([]map[string]any, error) {
	restrict := kustypes.LoadRestrictionsNone
	if rootOnly {
		restrict = kustypes.LoadRestrictionsRootOnly
	}
	res, err := runKustomize(fs, dir, restrict)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, res.Size())
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// kustomizeMu: kustomize's builds share global state (its OpenAPI schema).
var kustomizeMu gosync.Mutex

func runKustomize(fs filesys.FileSystem, dir string, restrict kustypes.LoadRestrictions) (res resmap.ResMap, err error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{LoadRestrictions: restrict, PluginConfig: kustypes.DisabledPluginConfig()})
	return k.Run(fs, dir)
}

func konfigName(p string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if path.Base(p) == n {
			return true
		}
	}
	return false
}

// withOrigins adds originAnnotations to a kustomization's buildMetadata;
// own says the kustomization asked for them itself.
func withOrigins(content []byte) ([]byte, bool, error) {
	k := map[string]any{}
	if err := sigsyaml.Unmarshal(content, &k); err != nil {
		return nil, false, err
	}
	if k == nil {
		k = map[string]any{}
	}
	var meta []any
	if m, ok := k["buildMetadata"].([]any); ok {
		meta = m
	}
	for _, v := range meta {
		if v == "originAnnotations" {
			return content, true, nil
		}
	}
	k["buildMetadata"] = append(meta, "originAnnotations")
	out, err := sigsyaml.Marshal(k)
	return out, false, err
}

// hashOf names content for the caches.
func hashOf(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func jsonOf(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// KustomizeObjects runs kustomize over objects already rendered, with
// the kustomization fields given (a post-renderer's patches and images):
// nothing is read from the repository.
func KustomizeObjects(objs []Object, fields map[string]any) ([]Object, error) {
	fs := filesys.MakeFsInMemory()
	k := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
	for f, v := range fields {
		k[f] = v
	}
	files := map[string]string{}
	var resources []any
	for i, o := range objs {
		b, err := sigsyaml.Marshal(o.Obj)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("/in/o%d.yaml", i)
		fs.WriteFile(name, b)
		resources = append(resources, path.Base(name))
		files[o.ID()] = o.File
	}
	k["resources"] = resources
	kb, err := sigsyaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	fs.WriteFile("/in/kustomization.yaml", kb)
	res, err := build(fs, "/in", true)
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(res))
	for _, m := range res {
		o := Object{Obj: m}
		o.File = files[o.ID()]
		out = append(out, o)
	}
	return out, nil
}
