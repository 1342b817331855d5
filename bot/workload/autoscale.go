package workload

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/render"
)

// Unset is a bound a command leaves as it is.
const Unset = -1

// Autoscale changes the minimum and maximum replicas (Unset to keep one)
// of what autoscales app in env: an HPA or a KEDA ScaledObject, or the HPA
// a Flagger Canary names. Only the render model knows the autoscaler.
func (w *Repo) Autoscale(ctx context.Context, app string, env config.Environment, min, max int) (Change, error) {
	m, wl, err := w.resolveOne(ctx, app, env, "")
	if errors.Is(err, errNotModeled) {
		return Change{}, errs.Invalid("no workload %s in environment %s%s", md.Code(app), md.Code(env.Name), w.nearestText())
	}
	if err != nil {
		return Change{}, err
	}
	s, ok := autoscaler(wl)
	if !ok {
		return Change{}, errs.Invalid("nothing autoscales %s; `/scale %s N --env %s` sets its replicas", wl.Describe(), app, env.Name)
	}
	fields := [2]string{"minReplicas", "maxReplicas"}
	if s.Kind() == "ScaledObject" {
		fields = [2]string{"minReplicaCount", "maxReplicaCount"}
	}
	ask := shape.Ask{Field: shape.Bounds, Bounds: map[string]int{}}
	lo, hi := bound(s, fields[0], 1), bound(s, fields[1], 0)
	if min != Unset {
		ask.Bounds[fields[0]], lo = min, min
	}
	if max != Unset {
		ask.Bounds[fields[1]], hi = max, max
	}
	if lo > hi {
		return Change{}, errs.Usage("the minimum (%d) is above the maximum (%d) of the %s %s", lo, hi, s.Kind(), md.Code(s.Name()))
	}
	target := Workload{Env: wl.Env, Object: s}
	c, err := w.chosen(ctx, m, "scale", app, env, target, ask)
	if errors.Is(err, errNotModeled) {
		return Change{}, errs.Invalid("I found %s, but no file the render read sets its bounds", target.Describe())
	}
	if err != nil {
		return Change{}, err
	}
	c.Title = fmt.Sprintf("Autoscale %s between %d and %d in %s", app, lo, hi, env.Name)
	c.Summary = fmt.Sprintf("Sets the %s %s, which scales %s, to %s in %s, in %s.", s.Kind(), md.Code(s.Name()), md.Code(wl.Object.Name()), boundsText(lo, hi), md.Code(env.Name), c.Target.Desc) + c.Summary
	return c, nil
}

// autoscaler is the object whose bounds scale wl: its HPA or
// ScaledObject, or the HPA its Flagger Canary names (the Canary's
// autoscalerRef, which Flagger copies to the primary).
func autoscaler(wl Workload) (render.Object, bool) {
	s, ok := scaler(wl.Env, wl)
	if !ok || s.Kind() != "Canary" {
		return s, ok
	}
	ref, _ := shape.Get(s.Obj, "spec", "autoscalerRef").(map[string]any)
	name, _ := ref["name"].(string)
	for _, o := range wl.Env.Objects {
		if o.Kind() == "HorizontalPodAutoscaler" && o.Name() == name && o.Namespace() == s.Namespace() {
			return o, true
		}
	}
	return render.Object{}, false
}

func bound(o render.Object, field string, def int) int {
	switch n := shape.Get(o.Obj, "spec", field).(type) {
	case int64:
		return int(n)
	case float64:
		return int(n)
	case int:
		return n
	}
	return def
}

func boundsText(lo, hi int) string {
	return fmt.Sprintf("between %d and %d replicas", lo, hi)
}

// nearestText lists the nearest names the model found, for a reply.
func (w *Repo) nearestText() string {
	if len(w.nearest) == 0 {
		return ""
	}
	var codes []string
	for _, n := range w.nearest {
		codes = append(codes, md.Code(n))
	}
	return ". Names close to it in what the environment renders: " + strings.Join(codes, ", ")
}
