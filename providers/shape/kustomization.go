package shape

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"

	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() {
	Register(kustomizeImages{})
	Register(kustomizeReplicas{})
}

// IsKustomization reports whether file p is a kustomization file.
func IsKustomization(p string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if path.Base(p) == n {
			return true
		}
	}
	return false
}

// kustomizations are the kustomization files the workload's render read,
// with their document; own is the one of the applier's directory, where
// a new entry goes.
func kustomizations(t *Target) (files []string, own string) {
	src := strings.Trim(t.Applier().Source, "/")
	for _, f := range t.Inputs() {
		if !IsKustomization(f) || len(t.Docs.Of(f)) == 0 {
			continue
		}
		files = append(files, f)
		if path.Dir(f) == src || src == "." && path.Dir(f) == "." {
			own = f
		}
	}
	return files, own
}

// ImageEntry reports whether a kustomize images: entry (name, newName)
// makes image name: its newName is that name, or it has none and its name is.
func ImageEntry(entry map[string]any, name string) bool {
	n, _ := entry["name"].(string)
	nn, _ := entry["newName"].(string)
	return nn == name || nn == "" && n == name
}

// ImageValues are the fields of an images: entry that give image want:
// newName only when the name changes, the old digest dropped for a tag.
func ImageValues(entry map[string]any, want Img) map[string]any {
	v := map[string]any{}
	name, _ := entry["name"].(string)
	if nn, _ := entry["newName"].(string); nn != want.Name && !(nn == "" && name == want.Name) {
		v["newName"] = want.Name
	}
	if want.Tag != "" {
		v["newTag"] = want.Tag
	} else if _, ok := entry["newTag"]; ok {
		v["newTag"] = nil
	}
	if want.Digest != "" {
		v["digest"] = want.Digest
	} else if _, ok := entry["digest"]; ok {
		v["digest"] = nil
	}
	return v
}

// kustomizeImages is a kustomization's images: entry.
type kustomizeImages struct{}

func (kustomizeImages) Name() string { return "kustomize-images" }

func (kustomizeImages) Edits(t *Target) []Edit {
	if t.Ask.Field != Image {
		return nil
	}
	files, own := kustomizations(t)
	var out []Edit
	for _, f := range files {
		d := t.Docs.Of(f)[0]
		imgs, _ := d.Map["images"].([]any)
		for i, e := range imgs {
			entry, _ := e.(map[string]any)
			if entry == nil || !ImageEntry(entry, t.Ask.Old.Name) {
				continue
			}
			content, _, err := SetAll(t.Docs.Raw(f), d.Index, At("images", yamledit.Step{Item: i + 1}), ImageValues(entry, t.Ask.Image))
			if err != nil {
				continue
			}
			out = append(out, Edit{File: f, Content: content, Layer: ownLayer(f, own), Where: fmt.Sprintf("the `images:` entry %s of %s", Code(fmt.Sprint(entry["name"])), Code(f))})
		}
	}
	if own != "" {
		entry := map[string]any{"name": t.Ask.Old.Name}
		if t.Ask.Image.Name != t.Ask.Old.Name {
			entry["newName"] = t.Ask.Image.Name
		}
		if t.Ask.Image.Tag != "" {
			entry["newTag"] = t.Ask.Image.Tag
		}
		if t.Ask.Image.Digest != "" {
			entry["digest"] = t.Ask.Image.Digest
		}
		d := t.Docs.Of(own)[0]
		if content, err := yamledit.AppendValue(t.Docs.Raw(own), d.Index, At("images"), entry); err == nil {
			out = append(out, Edit{File: own, Content: content, Adds: true, Layer: 1, Where: fmt.Sprintf("a new `images:` entry in %s", Code(own))})
		}
	}
	return out
}

// kustomizeReplicas is a kustomization's replicas: entry.
type kustomizeReplicas struct{}

func (kustomizeReplicas) Name() string { return "kustomize-replicas" }

func (kustomizeReplicas) Edits(t *Target) []Edit {
	if t.Ask.Field != Replicas {
		return nil
	}
	files, own := kustomizations(t)
	var out []Edit
	for _, f := range files {
		d := t.Docs.Of(f)[0]
		reps, _ := d.Map["replicas"].([]any)
		for i, e := range reps {
			entry, _ := e.(map[string]any)
			if n, _ := entry["name"].(string); n == "" || !strings.Contains(t.Object.Name(), n) {
				continue
			}
			content, _, err := SetAll(t.Docs.Raw(f), d.Index, At("replicas", yamledit.Step{Item: i + 1}), map[string]any{"count": t.Ask.Replicas})
			if err != nil {
				continue
			}
			out = append(out, Edit{File: f, Content: content, Layer: ownLayer(f, own), Where: fmt.Sprintf("the `replicas:` entry %s of %s", Code(fmt.Sprint(entry["name"])), Code(f))})
		}
	}
	if own != "" {
		name := t.Object.Name()
		for _, wd := range WorkloadDocs(t) {
			name = wd.Doc.Name() // the name before any prefix
			break
		}
		d := t.Docs.Of(own)[0]
		entry := map[string]any{"name": name, "count": t.Ask.Replicas}
		if content, err := yamledit.AppendValue(t.Docs.Raw(own), d.Index, At("replicas"), entry); err == nil {
			out = append(out, Edit{File: own, Content: content, Adds: true, Layer: 1, Where: fmt.Sprintf("a new `replicas:` entry in %s", Code(own))})
		}
	}
	return out
}

// appendPatch lists a patch file in a kustomization's patches.
func appendPatch(src []byte, doc int, name string) ([]byte, error) {
	return yamledit.AppendValue(src, doc, At("patches"), map[string]any{"path": name})
}

func ownLayer(f, own string) int {
	if f == own {
		return 1
	}
	return 0
}
