package preview

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
	"github.com/gitops-bot/gitops-bot/render"
)

// Warning IDs, for a repository's `preview.fail` list.
const (
	WarnImmutable = "immutable-field" // the apply will be rejected
	WarnPVCShrunk = "pvc-shrunk"
	WarnRemoved   = "removed"      // a StatefulSet, PVC, Namespace, CRD or NetworkPolicy
	WarnPrivilege = "privileged"   // privileged, host namespaces, hostPath
	WarnRBAC      = "rbac-widened" // new verbs or resources, `*`, cluster-admin
	WarnProbes    = "probes-removed"
	WarnResources = "resources-removed"
	WarnZero      = "replicas-zero"
	WarnLatest    = "latest-tag"
	WarnDigest    = "digest-to-tag" // a mutable tag replaces a digest
	WarnMajor     = "major-bump"    // of an image or a chart
	WarnSuspend   = "suspended"     // a Kustomization or HelmRelease suspended
	WarnAutoSync  = "autosync-off"  // an Application's automated sync turned off
	WarnPrune     = "prune-deletes"
	WarnMoved     = "applier-moved"
)

// WarningIDs are all of them, for the configuration's validation.
var WarningIDs = []string{WarnImmutable, WarnPVCShrunk, WarnRemoved, WarnPrivilege, WarnRBAC, WarnProbes,
	WarnResources, WarnZero, WarnLatest, WarnDigest, WarnMajor, WarnSuspend, WarnAutoSync, WarnPrune, WarnMoved}

type warner struct{ out []Warning }

func (w *warner) add(id string, e entry, tree *render.Tree, format string, args ...any) {
	path, line := e.file, 0
	if path == "" && e.applier != nil {
		path = e.applier.File
	}
	if path != "" && tree != nil {
		line = lineOf(tree, path, e.ref.Kind, e.ref.Name)
	}
	w.out = append(w.out, Warning{ID: id, Message: fmt.Sprintf(format, args...), Path: path, Line: line})
}

// warnings are what a reviewer should look at in the change.
func warnings(before, after map[string]entry, base, head *render.Env, headTree, baseTree *render.Tree) []Warning {
	w := &warner{}
	for _, k := range sortedKeys(after) {
		a := after[k]
		b, had := before[k]
		if !had {
			w.added(a, headTree)
			continue
		}
		if b.ref.Applier != a.ref.Applier {
			w.add(WarnMoved, a, headTree, "%s moves from %s to %s: the old applier may delete it before the new one applies it", a.ref, b.ref.Applier, a.ref.Applier)
		}
		if !same(b.obj, a.obj) {
			w.changed(b, a, headTree)
		}
	}
	pruned := map[string]int{}
	for _, k := range sortedKeys(before) {
		b := before[k]
		if _, ok := after[k]; ok {
			continue
		}
		prunes, how := prunes(b.applier)
		if prunes {
			pruned[b.ref.Applier]++
		}
		switch b.ref.Kind {
		case "StatefulSet", "PersistentVolumeClaim", "Namespace", "CustomResourceDefinition", "NetworkPolicy":
			w.add(WarnRemoved, b, baseTree, "%s is removed: %s", b.ref, how)
		}
	}
	for _, applier := range sortedStrings(pruned) {
		w.out = append(w.out, Warning{ID: WarnPrune, Message: fmt.Sprintf("%s prunes: %d objects it applies now will be deleted", applier, pruned[applier])})
	}
	return w.out
}

// prunes says whether the applier deletes what it no longer applies.
func prunes(a *render.Applier) (bool, string) {
	if a == nil || a.Ref == render.Root {
		return false, "whether it is deleted depends on what applies the environment's directory"
	}
	switch a.Ref.Kind {
	case "Kustomization":
		if render.Get(a.Obj, "spec", "prune") == true {
			return true, "the Kustomization " + a.Ref.Name + " prunes, so it will be deleted"
		}
		return false, "the Kustomization " + a.Ref.Name + " does not prune: it is left in the cluster, orphaned"
	case "HelmRelease":
		return true, "the HelmRelease " + a.Ref.Name + "'s upgrade deletes it"
	case "Application":
		if render.Get(a.Obj, "spec", "syncPolicy", "automated", "prune") == true {
			return true, "the Application " + a.Ref.Name + " prunes automatically, so it will be deleted"
		}
		return false, "the Application " + a.Ref.Name + " does not prune automatically: it stays until a sync with prune"
	}
	return false, "the " + a.Ref.Kind + " " + a.Ref.Name + " decides"
}

func (w *warner) added(a entry, tree *render.Tree) {
	w.privilege(nil, a, tree)
	w.rbac(nil, a, tree)
	for _, c := range shape.Containers(a.obj) {
		w.tag(nil, c, a, tree)
	}
}

func (w *warner) changed(b, a entry, tree *render.Tree) {
	kind := a.ref.Kind
	switch kind {
	case "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet":
		if !reflect.DeepEqual(render.Get(b.obj, "spec", "selector"), render.Get(a.obj, "spec", "selector")) {
			w.add(WarnImmutable, a, tree, "%s changes its selector, which is immutable: the apply will be rejected", a.ref)
		}
	}
	if kind == "StatefulSet" && !reflect.DeepEqual(render.Get(b.obj, "spec", "volumeClaimTemplates"), render.Get(a.obj, "spec", "volumeClaimTemplates")) {
		w.add(WarnImmutable, a, tree, "%s changes its volumeClaimTemplates, which are immutable: the apply will be rejected", a.ref)
	}
	if kind == "Job" && !reflect.DeepEqual(render.Get(b.obj, "spec", "template"), render.Get(a.obj, "spec", "template")) {
		w.add(WarnImmutable, a, tree, "%s changes its pod template, which is immutable: the apply will be rejected", a.ref)
	}
	if kind == "Service" {
		if x, y := render.Str(b.obj, "spec", "clusterIP"), render.Str(a.obj, "spec", "clusterIP"); x != "" && x != y {
			w.add(WarnImmutable, a, tree, "%s changes its clusterIP (%s → %s), which is immutable: the apply will be rejected", a.ref, x, orNone(y))
		}
	}
	if kind == "PersistentVolumeClaim" {
		x, ex := resource.ParseQuantity(render.Str(b.obj, "spec", "resources", "requests", "storage"))
		y, ey := resource.ParseQuantity(render.Str(a.obj, "spec", "resources", "requests", "storage"))
		if ex == nil && ey == nil && y.Cmp(x) < 0 {
			w.add(WarnPVCShrunk, a, tree, "%s shrinks from %s to %s: a volume cannot shrink, the apply will be rejected", a.ref, x.String(), y.String())
		}
	}
	if isWorkload(a.obj) {
		if replicas(a.obj) == 0 && replicas(b.obj) != 0 {
			w.add(WarnZero, a, tree, "%s is scaled to 0 replicas", a.ref)
		}
		for _, c := range shape.Containers(a.obj) {
			n, _ := c["name"].(string)
			old := shape.Container(b.obj, n)
			if old == nil {
				w.tag(nil, c, a, tree)
				continue
			}
			w.tag(old, c, a, tree)
			for _, p := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
				if old[p] != nil && c[p] == nil {
					w.add(WarnProbes, a, tree, "the container %s of %s loses its %s", n, a.ref, p)
				}
			}
			for _, g := range []string{"requests", "limits"} {
				if render.Get(old, "resources", g) != nil && render.Get(c, "resources", g) == nil {
					w.add(WarnResources, a, tree, "the container %s of %s loses its resource %s", n, a.ref, g)
				}
			}
		}
	}
	w.privilege(b.obj, a, tree)
	w.rbac(b.obj, a, tree)
	switch kind {
	case "Kustomization", "HelmRelease":
		if render.Get(a.obj, "spec", "suspend") == true && render.Get(b.obj, "spec", "suspend") != true {
			w.add(WarnSuspend, a, tree, "%s is suspended: Flux stops applying it", a.ref)
		}
	case "Application":
		if render.Get(b.obj, "spec", "syncPolicy", "automated") != nil && render.Get(a.obj, "spec", "syncPolicy", "automated") == nil {
			w.add(WarnAutoSync, a, tree, "%s turns automated sync off: Argo CD stops applying its changes", a.ref)
		}
	}
	w.chart(b, a, tree)
}

// tag: an image pinned to latest (or to no tag), a digest replaced by a
// tag, a major version bump.
func (w *warner) tag(old, c map[string]any, a entry, tree *render.Tree) {
	n, _ := c["name"].(string)
	img, _ := c["image"].(string)
	var was string
	if old != nil {
		was, _ = old["image"].(string)
	}
	if img == "" || img == was {
		return
	}
	to, from := shape.ParseImg(img), shape.ParseImg(was)
	if to.Digest == "" && (to.Tag == "" || to.Tag == "latest") {
		w.add(WarnLatest, a, tree, "the container %s of %s runs %s, a tag that moves", n, a.ref, img)
	}
	if old == nil {
		return
	}
	if from.Digest != "" && to.Digest == "" {
		w.add(WarnDigest, a, tree, "the container %s of %s was pinned by digest and now runs the tag %s, which can move", n, a.ref, img)
	}
	if from.Name == to.Name && major(from.Tag, to.Tag) {
		w.add(WarnMajor, a, tree, "the container %s of %s moves a major version: %s → %s", n, a.ref, from.Tag, to.Tag)
	}
}

// chart: a HelmRelease's or an Application's chart moving a major version.
func (w *warner) chart(b, a entry, tree *render.Tree) {
	var x, y string
	switch a.ref.Kind {
	case "HelmRelease":
		x, y = render.Str(b.obj, "spec", "chart", "spec", "version"), render.Str(a.obj, "spec", "chart", "spec", "version")
	case "Application":
		if render.Str(a.obj, "spec", "source", "chart") != "" {
			x, y = render.Str(b.obj, "spec", "source", "targetRevision"), render.Str(a.obj, "spec", "source", "targetRevision")
		}
	}
	if major(x, y) {
		w.add(WarnMajor, a, tree, "%s moves its chart a major version: %s → %s", a.ref, x, y)
	}
}

func major(from, to string) bool {
	x, e1 := semver.NewVersion(from)
	y, e2 := semver.NewVersion(to)
	return e1 == nil && e2 == nil && y.Major() > x.Major()
}

// privilege: a container gaining privileged, the pod gaining host
// namespaces or a hostPath volume.
func (w *warner) privilege(old map[string]any, a entry, tree *render.Tree) {
	if !isWorkload(a.obj) {
		return
	}
	spec := strings.Split(shape.Workloads[a.ref.Kind], ".")
	pod := render.Map(a.obj, spec...)
	was := render.Map(old, spec...)
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if pod[f] == true && (was == nil || was[f] != true) {
			w.add(WarnPrivilege, a, tree, "%s gains %s", a.ref, f)
		}
	}
	hostPaths := func(p map[string]any) map[string]bool {
		out := map[string]bool{}
		for _, v := range render.Maps(p["volumes"]) {
			if v["hostPath"] != nil {
				out[render.Str(v, "hostPath", "path")] = true
			}
		}
		return out
	}
	had := hostPaths(was)
	for _, p := range sortedBools(hostPaths(pod)) {
		if !had[p] {
			w.add(WarnPrivilege, a, tree, "%s mounts the node's %s (hostPath)", a.ref, p)
		}
	}
	for _, c := range shape.Containers(a.obj) {
		n, _ := c["name"].(string)
		if render.Get(c, "securityContext", "privileged") == true && (old == nil || render.Get(shape.Container(old, n), "securityContext", "privileged") != true) {
			w.add(WarnPrivilege, a, tree, "the container %s of %s becomes privileged", n, a.ref)
		}
	}
}

// rbac: a Role or ClusterRole granting more, a binding to cluster-admin.
func (w *warner) rbac(old map[string]any, a entry, tree *render.Tree) {
	switch a.ref.Kind {
	case "Role", "ClusterRole":
		had := grants(old)
		var more []string
		for _, g := range sortedBools(grants(a.obj)) {
			if !had[g] {
				more = append(more, g)
			}
		}
		if len(more) > 0 && (old != nil || strings.Contains(strings.Join(more, " "), "*")) {
			w.add(WarnRBAC, a, tree, "%s grants more: %s", a.ref, strings.Join(more, ", "))
		}
	case "RoleBinding", "ClusterRoleBinding":
		if render.Str(a.obj, "roleRef", "name") == "cluster-admin" && render.Str(old, "roleRef", "name") != "cluster-admin" {
			w.add(WarnRBAC, a, tree, "%s binds %s to cluster-admin", a.ref, subjects(a.obj))
		}
	}
}

// grants are a role's rules as "verb group/resource".
func grants(role map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, r := range render.Maps(render.Get(role, "rules")) {
		groups := render.Strings(r["apiGroups"])
		if len(groups) == 0 {
			groups = []string{""}
		}
		resources := render.Strings(r["resources"])
		resources = append(resources, render.Strings(r["nonResourceURLs"])...)
		for _, v := range render.Strings(r["verbs"]) {
			for _, g := range groups {
				for _, res := range resources {
					out[v+" "+strings.TrimPrefix(g+"/"+res, "/")] = true
				}
			}
		}
	}
	return out
}

func subjects(binding map[string]any) string {
	var out []string
	for _, s := range render.Maps(binding["subjects"]) {
		out = append(out, render.Str(s, "kind")+" "+render.Str(s, "name"))
	}
	if len(out) == 0 {
		return "no subject"
	}
	return strings.Join(out, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sortedBools(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedStrings(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// lineOf is the line of the document of kind and name in file (1 when it
// is not found).
func lineOf(tree *render.Tree, file, kind, name string) int {
	c, err := tree.Read(file)
	if err != nil {
		return 1
	}
	docs, err := yamledit.Docs(c)
	if err != nil {
		return 1
	}
	for _, d := range docs {
		n := d
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		if yamledit.Find(d, shape.At("kind")) != nil && yamledit.Find(d, shape.At("kind")).Value == kind &&
			yamledit.Find(d, shape.At("metadata.name")) != nil && strings.Contains(name, yamledit.Find(d, shape.At("metadata.name")).Value) {
			return n.Line
		}
	}
	return 1
}

// applierLine is where an applier is defined, for a failure's annotation.
func applierLine(tree *render.Tree, a *render.Applier) (string, int) {
	if a.File == "" {
		for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
			if p := strings.TrimPrefix(a.Source+"/"+n, "/"); tree.Exists(p) {
				return p, 1
			}
		}
		return "", 0
	}
	return a.File, lineOf(tree, a.File, a.Ref.Kind, a.Ref.Name)
}
