package alerts

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/md"
)

// maxListedAlerts bounds the alerts an account lists; the rest are counted.
const maxListedAlerts = 20

// origin is the pull request's account of the alert. Label and annotation
// values are untrusted: they go in code spans and cells only.
func origin(r *Rule, g Group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Opened for the alert group %s, matched by rule %s (action %s, step %s, max %s).\n\n",
		md.Code(g.GroupKey), md.Code(r.Name), md.Code(r.Action), md.Code(r.Step), md.Code(r.Max))
	b.WriteString("| alert | labels | annotations | since |\n| --- | --- | --- | --- |\n")
	for i, al := range g.Alerts {
		if i == maxListedAlerts {
			// A group may hold thousands; the pull request body has a limit.
			fmt.Fprintf(&b, "\n(and %d more alerts of this group, not listed)\n", len(g.Alerts)-maxListedAlerts)
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", md.Cell(md.Clip(al.Labels["alertname"], 200)), md.Cell(md.Clip(pairs(al.Labels), 1000)), md.Cell(md.Clip(pairs(al.Annotations), 1000)), al.StartsAt.UTC().Format(time.RFC3339))
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
