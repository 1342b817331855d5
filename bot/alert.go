package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// AlertGroup is an Alertmanager webhook notification (version 4).
type AlertGroup struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a group.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// AlertRule says what to do about alerts that match it.
type AlertRule struct {
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

// Matcher is an Alertmanager-style label matcher: name="v", name!="v",
// name=~"re", name!~"re".
type Matcher struct {
	Name, Op, Value string
	re              *regexp.Regexp
}

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$`)

// ParseMatcher reads one matcher.
func ParseMatcher(s string) (Matcher, error) {
	m := matcherRE.FindStringSubmatch(s)
	if m == nil {
		return Matcher{}, fmt.Errorf("matcher %q: want name=\"value\" (or !=, =~, !~)", s)
	}
	out := Matcher{Name: m[1], Op: m[2], Value: strings.ReplaceAll(m[3], `\"`, `"`)}
	if out.Op == "=~" || out.Op == "!~" {
		re, err := regexp.Compile("^(?:" + out.Value + ")$") // anchored, as Alertmanager does
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %v", s, err)
		}
		out.re = re
	}
	return out, nil
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

func (m Matcher) matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	}
	return !m.re.MatchString(v)
}

// Check validates a rule.
func (r *AlertRule) Check() error {
	if r.Name == "" || len(r.Match) == 0 {
		return fmt.Errorf("alert rule needs a name and at least one matcher")
	}
	if _, _, ok := strings.Cut(r.Repo, "/"); !ok {
		return fmt.Errorf("rule %s: repo %q is not owner/name", r.Name, r.Repo)
	}
	if r.WorkloadLabel == "" {
		r.WorkloadLabel = "deployment"
	}
	if r.Env == "" {
		return fmt.Errorf("rule %s: env is required", r.Name)
	}
	switch r.Action {
	case "memory":
		for _, q := range []string{r.Step, r.Max} {
			if _, err := resource.ParseQuantity(q); err != nil {
				return fmt.Errorf("rule %s: step and max must be quantities (like 256Mi): %q", r.Name, q)
			}
		}
	case "scale":
		var step, max int
		if _, err := fmt.Sscan(r.Step, &step); err != nil || step <= 0 {
			return fmt.Errorf("rule %s: step must be a positive number of replicas", r.Name)
		}
		if _, err := fmt.Sscan(r.Max, &max); err != nil || max <= 0 || max > maxReplicas {
			return fmt.Errorf("rule %s: max must be from 1 to %d replicas", r.Name, maxReplicas)
		}
	case "rollback":
	default:
		return fmt.Errorf("rule %s: action %q: want memory, scale or rollback", r.Name, r.Action)
	}
	if r.DryRun && r.TrackingIssue <= 0 {
		return fmt.Errorf("rule %s: dryRun needs trackingIssue", r.Name)
	}
	return nil
}

var (
	alertsReceived   = promauto.NewCounter(prometheus.CounterOpts{Name: "gitops_bot_alerts_received_total", Help: "Alert groups received."})
	alertsMatched    = promauto.NewCounterVec(prometheus.CounterOpts{Name: "gitops_bot_alerts_matched_total", Help: "Alert groups matched, by rule."}, []string{"rule"})
	alertPRs         = promauto.NewCounterVec(prometheus.CounterOpts{Name: "gitops_bot_alert_pull_requests_total", Help: "Alert pull requests opened or updated."}, []string{"result"})
	alertsSuppressed = promauto.NewCounterVec(prometheus.CounterOpts{Name: "gitops_bot_alerts_suppressed_total", Help: "Alert actions not taken, by reason (cooldown, cap, ceiling, unknown_workload, nothing_to_roll_back)."}, []string{"reason"})
)

// RepoOpener reaches a repository by "owner/name" without an event.
type RepoOpener interface {
	OpenRepo(ctx context.Context, fullName string) (forge.Forge, forge.Repo, error)
}

// Alerts turns alert groups into pull requests, one per group and rule.
type Alerts struct {
	Bot   *Bot
	Rules []AlertRule
	// Repos reach repositories by host ("github", "gitlab").
	Repos map[string]RepoOpener
	Now   func() time.Time

	// serial: alert groups are few; handling them one at a time keeps the
	// per-group state and the counts simple.
	serial gosync.Mutex
	groups map[string]*groupState // by rule and group key
	open   map[string]int         // open alert pull requests by repository
}

type groupState struct {
	pr         int
	lastAction time.Time
	resolved   bool
}

// branchOf: alert text never reaches a branch name, only its hash.
func branchOf(rule, groupKey string) string {
	h := sha256.Sum256([]byte(groupKey))
	return "alert-" + rule + "-" + hex.EncodeToString(h[:])[:10]
}

// HandleAlert acts on every rule a group matches.
func (a *Alerts) HandleAlert(ctx context.Context, g AlertGroup) error {
	a.serial.Lock()
	defer a.serial.Unlock()
	alertsReceived.Inc()
	if a.groups == nil {
		a.groups, a.open = map[string]*groupState{}, map[string]int{}
	}
	labels := g.CommonLabels
	if len(g.Alerts) > 0 && len(labels) == 0 {
		labels = g.Alerts[0].Labels
	}
	var errs []error
	for i := range a.Rules {
		r := &a.Rules[i]
		if !matchesAll(r.Match, labels) {
			continue
		}
		alertsMatched.WithLabelValues(r.Name).Inc()
		if err := a.apply(ctx, r, g); err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Name, err))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func matchesAll(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.matches(labels) {
			return false
		}
	}
	return true
}

func (a *Alerts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Alerts) apply(ctx context.Context, r *AlertRule, g AlertGroup) error {
	key := r.Name + "\x00" + g.GroupKey
	st := a.groups[key]
	if st == nil {
		st = &groupState{}
		a.groups[key] = st
	}

	opener, ok := a.Repos[r.Host]
	if !ok && r.Host == "" && len(a.Repos) == 1 {
		for _, o := range a.Repos {
			opener, ok = o, true
		}
	}
	if !ok {
		return fmt.Errorf("no %q host is configured for repository %s", r.Host, r.Repo)
	}
	f, repo, err := opener.OpenRepo(ctx, r.Repo)
	if err != nil {
		return err
	}
	if g.Status == "resolved" {
		if st.pr > 0 && !st.resolved {
			st.resolved = true
			a.open[r.Repo]--
			return f.Reply(ctx, repo, forge.Reply{Thread: st.pr, PR: true, Key: "alert-resolved",
				Body: fmt.Sprintf("The alert group has resolved (%s). Review whether this change is still wanted.", code(g.GroupKey))})
		}
		return nil
	}
	workload := ""
	for _, al := range g.Alerts {
		if al.Status == "firing" && al.Labels[r.WorkloadLabel] != "" {
			workload = al.Labels[r.WorkloadLabel]
			break
		}
	}
	if checkName("workload", workload, 253) != nil {
		alertsSuppressed.WithLabelValues("unknown_workload").Inc()
		a.Bot.Log.Warn("alert names no workload", "rule", r.Name, "label", r.WorkloadLabel)
		return nil
	}
	// A group that keeps firing updates its pull request; a new action
	// waits for the cooldown and fits under the cap.
	if st.pr == 0 || st.resolved {
		if !st.lastAction.IsZero() && a.now().Sub(st.lastAction) < r.Cooldown {
			alertsSuppressed.WithLabelValues("cooldown").Inc()
			return nil
		}
		full := r.MaxOpen > 0 && a.open[r.Repo] >= r.MaxOpen
		if full && !r.DryRun {
			alertsSuppressed.WithLabelValues("cap").Inc()
			return nil
		}
	}

	cfg, err := LoadConfig(ctx, f, repo, repo.DefaultBranch)
	if err != nil {
		return err
	}
	x := &execution{bot: a.Bot, forge: f, config: cfg,
		event:  forge.CommentEvent{Repo: repo, Author: "alertmanager"},
		branch: cfg.BranchPrefix + branchOf(r.Name, g.GroupKey),
		origin: alertOrigin(r, g),
		plan:   r.DryRun,
	}
	cmd, err := x.alertCommand(ctx, r, workload)
	if err != nil || cmd == nil {
		return err
	}
	x.inv = Invocation{Verb: cmd[0], Line: "/" + strings.Join(cmd, " ")}
	v := verbs[cmd[0]]
	fs, run, err := v.parse(cmd[1:])
	if err != nil {
		return err
	}
	out, err := run(ctx, x, fs.Args())
	if err != nil {
		return err
	}
	if r.DryRun {
		return f.Reply(ctx, repo, forge.Reply{Thread: r.TrackingIssue, Key: "alert-" + branchOf(r.Name, g.GroupKey),
			Body: fmt.Sprintf("Dry run of alert rule %s: I would open this pull request.\n\n%s\n\n%s", code(r.Name), x.origin, out)})
	}
	st.lastAction, st.resolved = a.now(), false
	if x.lastPR != nil {
		if x.lastPR.Created || st.pr == 0 {
			alertPRs.WithLabelValues("opened").Inc()
			a.open[r.Repo]++
		} else {
			alertPRs.WithLabelValues("updated").Inc()
		}
		st.pr = x.lastPR.Number
	}
	return nil
}

// alertCommand computes the day-2 command of a rule from the workload's
// current value, or nil when it is at the rule's ceiling.
func (x *execution) alertCommand(ctx context.Context, r *AlertRule, workload string) ([]string, error) {
	env, err := x.config.Environment(r.Env)
	if err != nil {
		return nil, err
	}
	if r.Action == "rollback" {
		return x.lastBotChange(ctx, workload, env.Name)
	}
	t, err := x.locate(ctx, workload, env)
	if err != nil {
		alertsSuppressed.WithLabelValues("unknown_workload").Inc()
		x.bot.Log.Warn("alert for a workload the repository does not hold", "workload", workload, "err", err)
		return nil, nil
	}
	switch r.Action {
	case "memory":
		if t.kind == inOverlay {
			if t, err = x.deploymentOf(ctx, t.path, workload); err != nil {
				return nil, err
			}
		}
		cur := x.currentValue(ctx, t, at(resourcesRoot(t, workload), "limits.memory"))
		step, max := resource.MustParse(r.Step), resource.MustParse(r.Max)
		next := step.DeepCopy()
		if q, err := resource.ParseQuantity(cur); err == nil {
			next = q.DeepCopy()
			next.Add(step)
		}
		if next.Cmp(max) > 0 {
			next = max
		}
		if q, err := resource.ParseQuantity(cur); err == nil && q.Cmp(next) >= 0 {
			alertsSuppressed.WithLabelValues("ceiling").Inc()
			return nil, nil
		}
		return []string{"resources", workload, "--memory", next.String(), "--env", r.Env}, nil
	default: // scale
		var step, max, cur int
		fmt.Sscan(r.Step, &step)
		fmt.Sscan(r.Max, &max)
		fmt.Sscan(x.currentValue(ctx, t, replicasField(t, workload)), &cur)
		if cur >= max {
			alertsSuppressed.WithLabelValues("ceiling").Inc()
			return nil, nil
		}
		return []string{"scale", workload, fmt.Sprint(min(cur+step, max)), "--env", r.Env}, nil
	}
}

// recentPulls bounds the search for the last bot change.
const recentPulls = 50

// lastBotChange finds the newest merged pull request the bot opened for
// the workload in the environment, and returns its /rollback command.
func (x *execution) lastBotChange(ctx context.Context, workload, env string) ([]string, error) {
	pulls, err := x.forge.MergedPulls(ctx, x.event.Repo, recentPulls)
	if err != nil {
		return nil, err
	}
	for _, p := range pulls {
		m, ok, err := ParseMarker(p.Body)
		if !ok || err != nil || !contains(m.Environments, env) {
			continue
		}
		fields := strings.Fields(m.Command)
		named := len(fields) > 1 && fields[1] == workload
		for _, o := range m.Objects {
			named = named || o.Name == workload || o.Name == workload+"-"+env
		}
		if named {
			return []string{"rollback", fmt.Sprint(p.Number)}, nil
		}
	}
	alertsSuppressed.WithLabelValues("nothing_to_roll_back").Inc()
	x.bot.Log.Warn("no bot change to roll back", "workload", workload, "env", env)
	return nil, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (x *execution) currentValue(ctx context.Context, t target, field []yamledit.Step) string {
	src, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, t.path)
	if err != nil {
		return ""
	}
	docs, err := yamledit.Docs(src)
	if err != nil || t.doc >= len(docs) {
		return ""
	}
	return scalar(docs[t.doc], field)
}

// alertOrigin is the pull request's account of the alert. Label and
// annotation values are untrusted: they go in code spans and cells only.
func alertOrigin(r *AlertRule, g AlertGroup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Opened for the alert group %s, matched by rule %s (action %s, step %s, max %s).\n\n",
		code(g.GroupKey), code(r.Name), code(r.Action), code(r.Step), code(r.Max))
	b.WriteString("| alert | labels | annotations | since |\n| --- | --- | --- | --- |\n")
	for _, al := range g.Alerts {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(al.Labels["alertname"]), cell(pairs(al.Labels)), cell(pairs(al.Annotations)), al.StartsAt.UTC().Format(time.RFC3339))
	}
	if g.TruncatedAlerts > 0 {
		fmt.Fprintf(&b, "\n(%d more alerts were truncated by Alertmanager.)\n", g.TruncatedAlerts)
	}
	if len(g.Alerts) > 0 && strings.HasPrefix(g.Alerts[0].GeneratorURL, "http") {
		fmt.Fprintf(&b, "\n[The alert's source](%s)\n", strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "\n", "").Replace(g.Alerts[0].GeneratorURL))
	}
	return b.String()
}

func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, ", ")
}
