package shape

import (
	"fmt"

	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() { Register(helmChartValues{}) }

// helmChartValues sets chart values of a kustomization's helmCharts entry
// that renders the workload: its valuesInline, which wins over its
// values files by default (valuesMerge: override), or one of those files.
type helmChartValues struct{}

func (helmChartValues) Name() string { return "helmcharts-values" }

func (helmChartValues) Edits(t *Target) []Edit {
	inf := t.Object.Inflated
	if inf == nil || inf.Layers == nil {
		return nil
	}
	docs := t.Docs.Of(inf.Kustomization)
	if len(docs) == 0 {
		return nil
	}
	var out []Edit
	for _, set := range ValueSets(t, inf.Layers.Values) {
		inline := At("helmCharts", yamledit.Step{Item: inf.Index + 1}, "valuesInline")
		if content, adds, err := SetAll(t.Docs.Raw(inf.Kustomization), docs[0].Index, inline, set); err == nil {
			layer := 2 + len(inf.Layers.Files)
			if adds {
				layer = 0 // a values file that sets it already is the place
			}
			out = append(out, Edit{File: inf.Kustomization, Content: content, Adds: adds, Layer: layer,
				Where: fmt.Sprintf("%s in the `valuesInline` of the chart %s in %s", Code(firstKey(set)), Code(inf.Layers.Chart), Code(inf.Kustomization))})
		}
		for i, f := range inf.Layers.Files {
			fd := t.Docs.Of(f)
			if len(fd) == 0 {
				continue
			}
			if content, adds, err := SetAll(t.Docs.Raw(f), fd[0].Index, nil, set); err == nil {
				out = append(out, Edit{File: f, Content: content, Adds: adds, Layer: 1 + i,
					Where: fmt.Sprintf("%s of the values file %s of the chart %s in %s", Code(firstKey(set)), Code(f), Code(inf.Layers.Chart), Code(inf.Kustomization))})
			}
		}
	}
	return out
}
