// Package verbs holds the slash commands, one file each with its test.
// A verb registers itself with command.Register; see docs/ for how to add one.
package verbs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/providers"
)

// Checks of command arguments that several verbs share.

func checkName(what, s string, max int) error {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return fmt.Errorf("%s %q: %s", what, s, strings.Join(errs, "; "))
	}
	if len(s) > max {
		return fmt.Errorf("%s %q: at most %d characters", what, s, max)
	}
	return nil
}

// parseImage wants a tagged image reference.
func parseImage(s string) (providers.Image, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return providers.Image{}, err
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return providers.Image{}, errors.New("pin a tag, as in ghcr.io/acme/web:1.4.2")
	}
	img := providers.Image{Name: reference.FamiliarName(named), Tag: tagged.Tag()}
	if d, digested := named.(reference.Digested); digested {
		img.Digest = d.Digest().String() // a pin kept as given: TAG@sha256:...
	}
	return img, nil
}

// appEnv checks a day-2 verb's APP and --env and finds the environment.
func appEnv(req *command.Request, app, env string) (config.Environment, error) {
	if err := checkName("APP", app, 253); err != nil {
		return config.Environment{}, errs.Usage("%v", err)
	}
	if env == "" {
		return config.Environment{}, errs.Usage("--env is required")
	}
	e, err := req.Config.Environment(env)
	if err != nil {
		return config.Environment{}, errs.Usage("%v", err)
	}
	return e, nil
}

func names(envs []config.Environment) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Name
	}
	return out
}
