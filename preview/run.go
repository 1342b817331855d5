package preview

import (
	"context"

	"github.com/gitops-bot/gitops-bot/render"
)

// Environments previews each environment of specs that the change
// affects: those whose render, on either side, reads a changed file (nil:
// every environment). rb renders the base, rh the head (one renderer, or
// two that share a cache and differ in what they may fetch); with a
// shared cache the head renders only the appliers whose inputs differ
// from the base's.
func Environments(ctx context.Context, rb, rh *render.Renderer, specs []render.Spec, base, head *render.Tree, changed []string, o Options) ([]*Report, error) {
	var out []*Report
	// Every base first: what the base fetches (its chart sources) is known
	// before any head renders.
	bases := make([]*render.Env, len(specs))
	for i, s := range specs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if eb, err := rb.Env(ctx, base, s); err == nil {
			bases[i] = eb // else the base did not render: all of the head is new
		}
	}
	for i, s := range specs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		eb := bases[i]
		if eb != nil && changed != nil && !eb.Affected(changed) {
			// The base read none of the changed files, nor listed a
			// directory that holds one: the head renders the same.
			continue
		}
		eh, err := rh.Env(ctx, head, s)
		if err != nil {
			out = append(out, Failed(s.Name, err))
			continue
		}
		if changed != nil && !Affected(eb, eh, changed) {
			continue
		}
		if eb == nil {
			eb = &render.Env{Name: s.Name, Dir: s.Dir}
		}
		out = append(out, Compare(eb, eh, base, head, o))
	}
	return out, nil
}
