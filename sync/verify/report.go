package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/forge"
)

// maxOutput is GitHub's limit on a check run's summary and text.
const maxOutput = 65535

// check renders a verification as the check the host shows.
func check(st *State, verdict Verdict, results []Result, clusterName string, note string) forge.Check {
	req := st.Request
	c := forge.Check{ID: st.CheckID, Name: CheckName(req.Env), ExternalID: req.ExternalID()}
	sha := short(req.SHA)
	switch verdict {
	case Waiting:
		c.Status, c.Title = "queued", fmt.Sprintf("Waiting for %s to pick up %s", clusterName, sha)
	case PickedUp:
		c.Status, c.Title = "in_progress", fmt.Sprintf("%s is applying %s", clusterName, sha)
	case Succeeded:
		c.Status, c.Title = "completed", fmt.Sprintf("%s applied %s and it is healthy", clusterName, sha)
	case Failed:
		c.Status, c.Title = "completed", fmt.Sprintf("%s failed to apply %s", clusterName, sha)
	case TimedOut:
		c.Status, c.Title = "completed", fmt.Sprintf("No verdict within %s", req.Timeout)
	case Neutral:
		c.Status, c.Title = "completed", "Nothing to verify"
		for _, r := range results {
			switch {
			case r.Verdict == Neutral:
				c.Title = fmt.Sprintf("Suspended in %s: %s is not applied until it is resumed", clusterName, sha)
			case r.Held != "" && r.Verdict != Succeeded:
				c.Title = fmt.Sprintf("Held in %s: %s waits for its progressive sync step", clusterName, sha)
			}
		}
	}
	if c.Status == "completed" {
		c.Conclusion = string(verdict)
	}

	var b strings.Builder
	if note != "" {
		b.WriteString(note + "\n\n")
	}
	fmt.Fprintf(&b, "Environment `%s`, merge commit `%s`", req.Env, req.SHA)
	if req.PR > 0 {
		fmt.Fprintf(&b, " (%s)", req.Repo.PullRef(req.PR))
	}
	b.WriteString(".\n\n")
	if verdict == TimedOut {
		b.WriteString("What was seen last:\n\n")
	}
	if verdict == Failed && req.PR > 0 {
		fmt.Fprintf(&b, "To revert the change, comment `/rollback` on %s.\n\n", req.Repo.PullRef(req.PR))
	}
	if len(results) > 0 {
		b.WriteString("| target | cluster | revision | sync | health | message | time taken |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, r := range results {
			took := ""
			if r.Took > 0 {
				took = r.Took.Round(time.Second).String()
			}
			fmt.Fprintf(&b, "| %s %s | %s | %s | %s | %s | %s | %s |\n", icon(r.Verdict), cell(r.Ref.String()), cell(clusterName),
				cell(short(r.Revision)), cell(r.Sync), cell(r.Health), cell(r.Message), took)
		}
	}
	c.Summary = truncate(b.String(), maxOutput)
	return c
}

func icon(v Verdict) string {
	switch v {
	case Succeeded:
		return "✅"
	case Failed:
		return "❌"
	case PickedUp:
		return "🔄"
	}
	return "⏳"
}

// cell keeps a status message inside its table cell.
func cell(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`).Replace(s)
	return truncate(s, 1000)
}

func short(sha string) string {
	if len(sha) == 40 {
		return sha[:7]
	}
	return sha
}

// truncate cuts s to at most n bytes, on a rune boundary, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "… (truncated)"
	cut := n - len(more)
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
