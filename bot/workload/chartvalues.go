package workload

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// Charts keep a workload's image in different shapes: image.repository and
// image.tag (most charts), image.registry + image.repository (Bitnami),
// controllers.<c>.containers.<c>.image (bjw-s app-template), and more.
// Rather than knowing each chart, the bot looks in the values for the
// mapping that holds the image being changed.

// imageSlot is a mapping of the values that names an image.
type imageSlot struct {
	path       []yamledit.Step // to the mapping, from the values root
	registry   string
	repository string
	hasTag     bool
}

func (s imageSlot) name() string {
	if s.registry != "" {
		return s.registry + "/" + s.repository
	}
	return s.repository
}

// imageSlots finds every mapping under values with a "repository" scalar.
func imageSlots(values *yaml.Node) []imageSlot {
	var out []imageSlot
	var walk func(n *yaml.Node, p []yamledit.Step)
	walk = func(n *yaml.Node, p []yamledit.Step) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		s := imageSlot{path: p}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			switch {
			case k == "repository" && v.Kind == yaml.ScalarNode:
				s.repository, found = v.Value, true
			case k == "registry" && v.Kind == yaml.ScalarNode:
				s.registry = v.Value
			case k == "tag" && v.Kind == yaml.ScalarNode:
				s.hasTag = true
			}
		}
		if found && s.repository != "" {
			out = append(out, s)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], append(append([]yamledit.Step{}, p...), yamledit.Step{Key: n.Content[i].Value}))
		}
	}
	walk(values, nil)
	return out
}

// sameImage compares image names as people write them: docker.io and its
// library are implied.
func sameImage(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(s, "docker.io/")
		s = strings.TrimPrefix(s, "library/")
		return s
	}
	return norm(a) == norm(b)
}

// imageEdits are the edits that make the chart run image: the tag of the
// slot that holds it, and its repository (and registry) when another
// registry or repository is asked for. The standard image.tag when the
// values name no image at all.
func imageEdits(values *yaml.Node, root []yamledit.Step, doc int, image providers.Image) ([]edit, []yamledit.Step) {
	slots := imageSlots(values)
	var match []imageSlot
	for _, s := range slots {
		if sameImage(s.name(), image.Name) || sameImage(s.repository, image.Name) {
			match = append(match, s)
		}
	}
	if len(match) == 1 {
		tag := At(root, match[0].path, "tag")
		return []edit{{doc: doc, field: tag, value: image.Tag}}, tag
	}
	var images []imageSlot // slots that are a workload's image, not a sidecar's or a dependency's
	for _, s := range slots {
		if n := len(s.path); n > 0 && s.path[n-1].Key == "image" {
			images = append(images, s)
		}
	}
	if len(match) == 0 && len(images) == 1 {
		// One image in the values, under another name: the asked one replaces it.
		s := images[0]
		tag := At(root, s.path, "tag")
		edits := []edit{{doc: doc, field: tag, value: image.Tag}}
		if s.registry != "" {
			registry, repo, _ := strings.Cut(image.Name, "/")
			edits = append(edits, edit{doc: doc, field: At(root, s.path, "registry"), value: registry},
				edit{doc: doc, field: At(root, s.path, "repository"), value: repo})
		} else {
			edits = append(edits, edit{doc: doc, field: At(root, s.path, "repository"), value: image.Name})
		}
		return edits, tag
	}
	// The values name no image: the chart's own keys are unknown, so the
	// usual ones are set, repository and tag both, for the whole image
	// asked to hold whatever the chart's default.
	tag := At(root, "image.tag")
	return []edit{{doc: doc, field: At(root, "image.repository"), value: image.Name}, {doc: doc, field: tag, value: image.Tag}}, tag
}

// replicasPath is where a chart's values set the replicas: an app-template
// style controllers.<c>.replicas when the values have one controller,
// replicaCount otherwise.
func replicasPath(values *yaml.Node) []yamledit.Step {
	if values != nil {
		if c := yamledit.Find(values, At("controllers")); c != nil && c.Kind == yaml.MappingNode && len(c.Content) == 2 {
			return At("controllers", []yamledit.Step{{Key: c.Content[0].Value}}, "replicas")
		}
	}
	return At("replicaCount")
}
