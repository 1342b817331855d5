package alerts

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/pkg/labels"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-bot/gitops-bot/bot/config/yamlconf"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
	"github.com/gitops-bot/gitops-bot/bot/workload"
)

// Rule says what to do about alerts that match it.
type Rule struct {
	Name  string    `yaml:"name"`
	Match []Matcher `yaml:"match"`
	Repo  string    `yaml:"repo"` // "owner/name" of the repository that holds the workload
	Host  string    `yaml:"host"` // github or gitlab; default: the one configured
	Env   string    `yaml:"env"`
	// WorkloadLabel names the alert label that holds the workload's name.
	WorkloadLabel string `yaml:"workloadLabel"`
	// Action is "memory" (raise the memory limit by Step up to Max),
	// "scale" (add Step replicas up to Max) or "rollback" (revert the last
	// merged bot change to the workload in Env).
	Action   string        `yaml:"action"`
	Step     string        `yaml:"step"`
	Max      string        `yaml:"max"`
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxOpen caps the open alert pull requests of the repository.
	MaxOpen int `yaml:"maxOpen"`
	// DryRun only comments on TrackingIssue what the rule would do.
	DryRun        bool `yaml:"dryRun"`
	TrackingIssue int  `yaml:"trackingIssue"`
}

// Matcher is one entry of a rule's match list, read by Alertmanager's own
// parser (the UTF-8 one, falling back to the classic one, as Alertmanager
// does by default): `name="v"`, `name=v`, `name!~"re"`, or several at once
// in braces, `{alertname="Foo", severity!="info"}`.
type Matcher struct {
	labels.Matchers
}

// matcherParser is Alertmanager's default: UTF-8 matchers, and the classic
// syntax where those do not parse.
var matcherParser = compat.FallbackMatchersParser(slog.New(slog.DiscardHandler))

// ParseMatcher reads one entry.
func ParseMatcher(s string) (Matcher, error) {
	ms, err := matcherParser(s, "alert rule")
	if err != nil {
		return Matcher{}, fmt.Errorf("matcher %q: %v", s, err)
	}
	if len(ms) == 0 {
		return Matcher{}, fmt.Errorf("matcher %q: no matcher", s)
	}
	return Matcher{Matchers: ms}, nil
}

// UnmarshalYAML reads a matcher from its string form.
func (m *Matcher) UnmarshalYAML(n *yaml.Node) error {
	parsed, err := ParseMatcher(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*m = parsed
	return nil
}

func (m Matcher) matches(ls map[string]string) bool {
	for _, x := range m.Matchers {
		if !x.Matches(ls[x.Name]) {
			return false
		}
	}
	return true
}

func matchesAll(ms []Matcher, ls map[string]string) bool {
	for _, m := range ms {
		if !m.matches(ls) {
			return false
		}
	}
	return true
}

// Check fills a rule's defaults and lists what is wrong with it, each
// naming its key within the rule (action, step) and what was wanted.
func (r *Rule) Check() []*yamlconf.Error {
	var bad []*yamlconf.Error
	want := func(key, format string, args ...any) {
		bad = append(bad, &yamlconf.Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if r.Name == "" {
		want("name", "want a name for the rule (it names the alert's pull requests and log lines)")
	}
	if len(r.Match) == 0 {
		want("match", "want at least one matcher, such as alertname=\"KubePodOOMKilled\"")
	}
	if _, _, ok := strings.Cut(r.Repo, "/"); !ok {
		want("repo", "want owner/name of the repository that holds the workload, not %q", r.Repo)
	}
	if r.WorkloadLabel == "" {
		r.WorkloadLabel = "deployment"
	}
	if r.Env == "" {
		want("env", "want the environment the rule acts on")
	}
	switch r.Action {
	case "memory":
		for _, q := range []struct{ key, v string }{{"step", r.Step}, {"max", r.Max}} {
			if _, err := resource.ParseQuantity(q.v); err != nil {
				want(q.key, "want a quantity such as 256Mi, not %q", q.v)
			}
		}
	case "scale":
		var step, max int
		if _, err := fmt.Sscan(r.Step, &step); err != nil || step <= 0 {
			want("step", "want a whole number of replicas to add, 1 or more, not %q", r.Step)
		}
		if _, err := fmt.Sscan(r.Max, &max); err != nil || max <= 0 || max > workload.MaxReplicas {
			want("max", "want a whole number of replicas from 1 to %d, not %q", workload.MaxReplicas, r.Max)
		}
	case "rollback":
	default:
		actions := []string{"memory", "rollback", "scale"}
		want("action", "want memory, scale or rollback, not %q.%s", r.Action, suggest.DidYouMean(r.Action, actions, func(s string) string { return s }))
	}
	if r.DryRun && r.TrackingIssue <= 0 {
		want("trackingIssue", "want the number of the issue a dry run comments on (dryRun is set)")
	}
	return bad
}
