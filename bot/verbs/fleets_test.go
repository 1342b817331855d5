package verbs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/render"
)

// fleetCases are the commands run on one fleet of testdata/corpus, with
// what the environments must render after each (cases.yaml beside it).
type fleetCases struct {
	URL    string `json:"url"`
	Config string `json:"config"`
	Cases  []struct {
		Run     string `json:"run"`
		Refused string `json:"refused"`
		Want    *struct {
			Env       string            `json:"env"`
			Workload  string            `json:"workload"` // Kind/name
			In        string            `json:"in"`       // the applier that applies it, when several do
			Image     string            `json:"image"`
			Replicas  *int              `json:"replicas"`
			Resources map[string]string `json:"resources"`
			File      string            `json:"file"` // the file the change must be in
		} `json:"want"`
	} `json:"cases"`
}

const charts = "../../testdata/charts"

// Every verb on fleets written by others, judged by the render: the
// workload has the value asked, nothing else changes in this or any
// other environment, and no line of a file changes but the edited ones.
func TestVerbsOnPublicFleets(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/corpus/*/cases.yaml")
	if err != nil || len(dirs) < 15 {
		t.Fatalf("corpus: %d fleets with cases (%v)", len(dirs), err)
	}
	for _, p := range dirs {
		name := filepath.Base(filepath.Dir(p))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var fc fleetCases
		if err := sigsyaml.UnmarshalStrict(b, &fc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, c := range fc.Cases {
			t.Run(name+" "+c.Run, func(t *testing.T) {
				f := corpus(t, name, fc.Config)
				before := f.Snapshot()
				bt := bot.New(bottest.Quiet)
				bt.Charts = render.ChartDir(charts)
				ev := bottest.Comment(1, "alice", c.Run)
				ev.Repo.CloneURL = fc.URL
				reply := bottest.HandleEvent(t, bt, f, ev)
				if c.Refused != "" {
					if len(f.Proposals()) != 0 || !strings.Contains(reply, c.Refused) {
						t.Fatalf("want a reply saying %q and no change; proposals %d, reply:\n%s", c.Refused, len(f.Proposals()), reply)
					}
					return
				}
				if len(f.Proposals()) != 1 {
					t.Fatalf("no proposal; reply:\n%s", reply)
				}
				after := map[string]string{}
				for k, v := range before {
					after[k] = v
				}
				changed := map[string]bool{}
				for _, file := range f.Proposals()[0].Files {
					after[file.Path] = string(file.Content)
					changed[file.Path] = true
					if old, ok := before[file.Path]; ok {
						onlyValuesChanged(t, file.Path, old, string(file.Content))
					}
				}
				if w := c.Want; w.File != "" && !changed[w.File] {
					t.Errorf("the change is not in %s: %v", w.File, keys(toStrings(changed)))
				}
				cfg, err := config.Parse([]byte(fc.Config))
				if err != nil {
					t.Fatal(err)
				}
				judgeRender(t, fc.URL, cfg, before, after, c.Want.Env, c.Want.Workload, c.Want.In, func(o render.Object) string {
					w := c.Want
					switch {
					case w.Image != "":
						for _, ct := range shape.Containers(o.Obj) {
							if ct["image"] == w.Image {
								return ""
							}
						}
						return fmt.Sprintf("no container runs %s", w.Image)
					case w.Replicas != nil:
						if got := shape.Get(o.Obj, "spec", "replicas"); fmt.Sprint(got) != fmt.Sprint(*w.Replicas) {
							return fmt.Sprintf("replicas %v", got)
						}
					case w.Resources != nil:
						for _, ct := range shape.Containers(o.Obj) {
							ok := true
							for k, v := range w.Resources {
								if fmt.Sprint(shape.Get(ct, append([]string{"resources"}, strings.Split(k, ".")...)...)) != v {
									ok = false
								}
							}
							if ok {
								return ""
							}
						}
						return fmt.Sprintf("no container has resources %v", w.Resources)
					}
					return ""
				})
			})
		}
	}
}

func toStrings(m map[string]bool) map[string]string {
	out := map[string]string{}
	for k := range m {
		out[k] = ""
	}
	return out
}

// judgeRender renders every environment before and after a change: the
// workload in env (applied by applier `in` when set) must pass check, and
// nothing else may change anywhere but the workload and its appliers.
func judgeRender(t *testing.T, url string, cfg *config.Config, before, after map[string]string, envName, workload, in string, check func(render.Object) string) {
	t.Helper()
	ctx := context.Background()
	kind, name, _ := strings.Cut(workload, "/")
	var files []string
	for p := range before {
		files = append(files, p)
	}
	r := model.New(url, render.ChartDir(charts))
	found := false
	for _, s := range model.Specs(cfg, files) {
		eb, err := r.Env(ctx, render.NewTree(ctx, render.Files(before), ""), s)
		if err != nil {
			t.Fatal(err)
		}
		ea, err := r.Env(ctx, render.NewTree(ctx, render.Files(after), ""), s)
		if err != nil {
			t.Fatal(err)
		}
		allowed := map[string]bool{}
		if s.Name == envName || s.Dir == dirOf(cfg, envName) {
			for _, o := range ea.Objects {
				a := ea.Appliers[o.Applier]
				if o.Kind() != kind || o.Name() != name || in != "" && a.Ref.Name != in {
					continue
				}
				if s.Name == envName {
					found = true
					if why := check(o); why != "" {
						t.Errorf("%s in %s after the change: %s", workload, envName, why)
					}
				}
				allowed[o.ID()] = true
				for _, c := range ea.Chain(o.Applier) {
					allowed[c.Ref.String()] = true
				}
			}
		}
		prev := map[string]string{}
		seen := map[string]int{}
		for _, o := range eb.Objects {
			k := eb.Appliers[o.Applier].Ref.String() + " " + o.ID()
			prev[fmt.Sprint(k, "#", seen[k])] = jsonString(o.Obj)
			seen[k]++
		}
		seen = map[string]int{}
		for _, o := range ea.Objects {
			k := ea.Appliers[o.Applier].Ref.String() + " " + o.ID()
			k, seen[k] = fmt.Sprint(k, "#", seen[k]), seen[k]+1
			p, ok := prev[k]
			delete(prev, k)
			if !ok {
				t.Errorf("%s: the change adds %s", s.Name, k)
				continue
			}
			if p != jsonString(o.Obj) && !allowed[o.ID()] && !allowed[o.Ref().String()] {
				t.Errorf("%s: the change also changes %s", s.Name, k)
			}
		}
		for k := range prev {
			t.Errorf("%s: the change removes %s", s.Name, k)
		}
	}
	if !found {
		t.Errorf("no %s rendered in %s after the change", workload, envName)
	}
}

func dirOf(cfg *config.Config, env string) string {
	e, _ := cfg.Environment(env)
	return e.Dir
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// onlyValuesChanged: every line the change removes comes back with the
// same key and another value; other lines are only added.
func onlyValuesChanged(t *testing.T, file, old, new string) {
	t.Helper()
	removed, added := lineDiff(old, new)
	keyOf := func(l string) string {
		k, _, _ := strings.Cut(strings.TrimSpace(l), ":")
		return k
	}
	have := map[string]int{}
	for _, l := range added {
		have[keyOf(l)]++
	}
	for _, l := range removed {
		if have[keyOf(l)] == 0 {
			t.Errorf("%s: the change removes %q", file, l)
		}
		have[keyOf(l)]--
	}
}

// lineDiff is the lines only in a and only in b (as multisets, in order).
func lineDiff(a, b string) (removed, added []string) {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	count := map[string]int{}
	for _, l := range lb {
		count[l]++
	}
	for _, l := range la {
		if count[l] > 0 {
			count[l]--
		} else {
			removed = append(removed, l)
		}
	}
	count = map[string]int{}
	for _, l := range la {
		count[l]++
	}
	for _, l := range lb {
		if count[l] > 0 {
			count[l]--
		} else {
			added = append(added, l)
		}
	}
	return removed, added
}
