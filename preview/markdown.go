package preview

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
)

// maxRows bounds a table of the summary: a fleet of hundreds of
// applications stays readable.
const maxRows = 50

func (r *Report) title() string {
	var t string
	switch {
	case r.Conclusion == "failure" && len(r.unfixed()) > 0:
		t = fmt.Sprintf("%s: %d of its appliers do not render", r.Env, len(r.unfixed()))
	case len(r.Added)+len(r.Changed)+len(r.Removed) == 0:
		t = r.Env + ": nothing changes"
	default:
		t = fmt.Sprintf("%s: %d added, %d changed, %d removed", r.Env, len(r.Added), len(r.Changed), len(r.Removed))
	}
	if r.Routine {
		t = "Routine: " + t + " (image tags and chart versions only)"
	}
	if n := len(r.Warnings); n > 0 {
		t += fmt.Sprintf(", %d warnings", n)
	}
	return t
}

func (r *Report) unfixed() []failure {
	var out []failure
	for _, f := range r.failed {
		if !f.fixed && !f.offline {
			out = append(out, f)
		}
	}
	return out
}

// annotate marks failures and warnings on the files that cause them.
func (r *Report) annotate() {
	for _, f := range r.failed {
		if f.fixed || f.path == "" {
			continue
		}
		level := "failure"
		if f.offline {
			level = "notice"
		}
		r.Annotations = append(r.Annotations, forge.Annotation{Path: f.path, StartLine: f.line, EndLine: f.line, Level: level,
			Message: fmt.Sprintf("%s %s: %s", f.applier, f.verb(), f.err)})
	}
	for _, w := range r.Warnings {
		if w.Path == "" {
			continue
		}
		level := "warning"
		if w.Fails {
			level = "failure"
		}
		line := w.Line
		if line == 0 {
			line = 1
		}
		r.Annotations = append(r.Annotations, forge.Annotation{Path: w.Path, StartLine: line, EndLine: line, Level: level, Message: w.Message})
	}
}

// markdown is the check's summary and text, each cut to the limit.
func (r *Report) markdown(o Options) (string, string) {
	limit := o.Limit
	if limit == 0 {
		limit = MaxText
	}
	var s strings.Builder
	if n := len(r.Added) + len(r.Changed) + len(r.Removed); n == 0 {
		fmt.Fprintf(&s, "Nothing that %s applies changes.\n", md.Code(r.Env))
	} else {
		fmt.Fprintf(&s, "**%d added, %d changed, %d removed** in what %s applies, both sides rendered as its controllers render them.\n", len(r.Added), len(r.Changed), len(r.Removed), md.Code(r.Env))
	}
	if r.Routine {
		s.WriteString("\nRoutine: only image tags and chart versions change.\n")
	}
	if f := r.failed; len(f) > 0 {
		s.WriteString("\n### Renders\n\n")
		for _, x := range f {
			if x.fixed {
				fmt.Fprintf(&s, "- ✅ %s renders again (it failed before: %s)\n", x.applier, md.Clip(x.err, 300))
				continue
			}
			where := ""
			if x.path != "" {
				where = fmt.Sprintf(" (%s, line %d)", md.Code(x.path), x.line)
			}
			mark := "❌"
			if x.offline {
				mark = "⏸️"
			}
			fmt.Fprintf(&s, "- %s %s %s%s: %s\n", mark, x.applier, x.verb(), where, md.Clip(x.err, 500))
		}
	}
	if len(r.Warnings) > 0 {
		s.WriteString("\n### Warnings\n\n")
		for _, w := range r.Warnings {
			mark := "⚠️"
			if w.Fails {
				mark = "❌"
			}
			where := ""
			if w.Path != "" {
				where = fmt.Sprintf(" (%s)", md.Code(w.Path))
			}
			fmt.Fprintf(&s, "- %s %s%s `%s`\n", mark, md.Escape(w.Message), where, w.ID)
		}
	}
	r.tables(&s)
	if len(r.Images) > 0 {
		s.WriteString("\n### Images\n\n| Workload | Container | From | To |\n| --- | --- | --- | --- |\n")
		for i, c := range r.Images {
			if i == maxRows {
				fmt.Fprintf(&s, "| and %d more | | | |\n", len(r.Images)-maxRows)
				break
			}
			fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", md.Escape(c.Workload), md.Code(c.Container), md.Code(c.From), md.Code(c.To))
		}
	}
	if res := r.Resources; res != (Resources{}) && (res.CPURequests.From != res.CPURequests.To || res.MemoryRequests.From != res.MemoryRequests.To || res.CPULimits.From != res.CPULimits.To || res.MemoryLimits.From != res.MemoryLimits.To) {
		s.WriteString("\n### Resources (every workload, × replicas)\n\n| | Before | After |\n| --- | --- | --- |\n")
		for _, row := range []struct {
			n string
			d Delta
		}{{"CPU requests", res.CPURequests}, {"memory requests", res.MemoryRequests}, {"CPU limits", res.CPULimits}, {"memory limits", res.MemoryLimits}} {
			fmt.Fprintf(&s, "| %s | %s | %s |\n", row.n, md.Code(row.d.From), md.Code(row.d.To))
		}
	}
	return cut(s.String(), limit, o.SeeAll), r.text(limit, o.SeeAll)
}

func utf8Start(b byte) bool { return utf8.RuneStart(b) }

// tables count what changes per applier and per kind.
func (r *Report) tables(s *strings.Builder) {
	if len(r.Added)+len(r.Changed)+len(r.Removed) == 0 {
		return
	}
	type row struct{ added, changed, removed int }
	by := func(key func(ObjectRef) string) ([]string, map[string]*row) {
		rows := map[string]*row{}
		get := func(k string) *row {
			if rows[k] == nil {
				rows[k] = &row{}
			}
			return rows[k]
		}
		for _, o := range r.Added {
			get(key(o)).added++
		}
		for _, o := range r.Changed {
			get(key(o)).changed++
		}
		for _, o := range r.Removed {
			get(key(o)).removed++
		}
		keys := make([]string, 0, len(rows))
		for k := range rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, rows
	}
	for _, t := range []struct {
		head string
		key  func(ObjectRef) string
	}{{"Applier", func(o ObjectRef) string { return o.Applier }}, {"Kind", func(o ObjectRef) string { return o.Kind }}} {
		keys, rows := by(t.key)
		fmt.Fprintf(s, "\n| %s | Added | Changed | Removed |\n| --- | --- | --- | --- |\n", t.head)
		for i, k := range keys {
			if i == maxRows {
				fmt.Fprintf(s, "| and %d more | | | |\n", len(keys)-maxRows)
				break
			}
			x := rows[k]
			fmt.Fprintf(s, "| %s | %d | %d | %d |\n", md.Escape(k), x.added, x.changed, x.removed)
		}
	}
}

// text is the rendered diff of each object, folded per object and in
// applier order; what does not fit is listed, not shown.
func (r *Report) text(limit int, seeAll string) string {
	type item struct {
		ref  ObjectRef
		what string
	}
	var items []item
	for _, o := range r.Added {
		items = append(items, item{o, "added"})
	}
	for _, o := range r.Changed {
		items = append(items, item{o, "changed"})
	}
	for _, o := range r.Removed {
		items = append(items, item{o, "removed"})
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].ref.Applier != items[j].ref.Applier {
			return items[i].ref.Applier < items[j].ref.Applier
		}
		return items[i].ref.key < items[j].ref.key
	})
	// Every object is named: a diff goes in only if the list of all the
	// objects after it still fits behind it.
	lines := make([]string, len(items))
	tail := make([]int, len(items)+1)
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		lines[i] = "- " + md.Escape(fmt.Sprintf("%s (%s, %s)", it.ref.String(), it.what, it.ref.Applier)) + "\n"
		tail[i] = tail[i+1] + len(lines[i])
	}
	const listHead = 400 // the line that says how many were left out
	var b strings.Builder
	left := 0
	var leftOut []string
	applier := ""
	for i, it := range items {
		d := r.diffs[it.ref.key]
		block := fmt.Sprintf("<details><summary>%s %s</summary>\n\n%s\n\n</details>\n", md.Escape(it.ref.String()), it.what, md.CodeBlock("diff", d))
		head := ""
		if it.ref.Applier != applier {
			head = fmt.Sprintf("\n### %s\n\n", md.Escape(it.ref.Applier))
		}
		rest := 0
		if i+1 < len(items) {
			rest = tail[i+1] + listHead
		}
		if left > 0 || b.Len()+len(head)+len(block)+rest > limit {
			left++
			leftOut = append(leftOut, lines[i])
			continue
		}
		applier = it.ref.Applier
		b.WriteString(head + block)
	}
	if left > 0 {
		fmt.Fprintf(&b, "\n**%d of %d diffs did not fit and are left out.**", left, len(items))
		if seeAll != "" {
			fmt.Fprintf(&b, " To see them all: %s", md.Code(seeAll))
		}
		b.WriteString("\n\n")
		for _, line := range leftOut {
			if b.Len()+len(line) > limit-100 {
				b.WriteString("- …\n")
				break
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

// OfflineNote says, first in a summary, which chart sources the head was
// rendered without.
func OfflineNote(sources string) string {
	return fmt.Sprintf("Rendered offline for %s: this pull request names a chart source the base branch does not, and a preview fetches only from sources the base fetches from.\n\n", md.Escape(sources))
}

// cut keeps text within limit, saying so.
func cut(text string, limit int, seeAll string) string {
	if len(text) <= limit {
		return text
	}
	note := "\n\n… (cut to fit"
	if seeAll != "" {
		note += "; see it all with " + md.Code(seeAll)
	}
	note += ")\n"
	keep := limit - len(note)
	for keep > 0 && !utf8Start(text[keep]) {
		keep--
	}
	return text[:keep] + note
}
