package chartrender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// ErrNoChart is the source's own answer that it has no such chart or
// version, as against not being able to ask it. The errors that match it
// say what the source has instead.
var ErrNoChart = errors.New("no such chart")

// noChart is such an answer, in words a reply can show as they are.
type noChart struct{ msg string }

func (e *noChart) Error() string        { return e.msg }
func (e *noChart) Is(target error) bool { return target == ErrNoChart }

func noChartf(format string, args ...any) error { return &noChart{fmt.Sprintf(format, args...)} }

// Resolve is the version of chart name that version (exact, or a semver
// range as a HelmRelease or an Application gives it) picks today, as the
// controllers pick it: the newest the repository's index lists, or the
// newest tag of the OCI registry. Nothing is downloaded but the index or
// the tag list. An error wrapping ErrNoChart is the source saying no.
func (r *Renderer) Resolve(ctx context.Context, repoURL, name, version string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if !strings.HasPrefix(repoURL, "oci://") {
		picked, _, err := r.inIndex(ctx, repoURL, name, version)
		return picked, err
	}
	ref := ociRef(repoURL, name)
	client, err := r.registry()
	if err != nil {
		return "", err
	}
	tag, err := pickTag(client, ref, version)
	var answer *errcode.ErrorResponse
	if errors.As(err, &answer) && answer.StatusCode == http.StatusNotFound {
		// NAME_UNKNOWN: the registry has no repository of that name.
		return "", noChartf("the registry has no chart %s", ref)
	}
	return tag, err
}

// noVersion says that no version of name in source matches version,
// naming the newest few it has.
func noVersion(name, version, source string, have []string) error {
	if len(have) == 0 {
		return noChartf("%s has no chart %s", source, name)
	}
	sorted := make([]*semver.Version, 0, len(have))
	for _, h := range have {
		if v, err := semver.NewVersion(h); err == nil {
			sorted = append(sorted, v)
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(sorted)))
	var newest []string
	for _, v := range sorted[:min(5, len(sorted))] {
		newest = append(newest, v.Original())
	}
	if len(newest) == 0 { // none is a semantic version
		newest = have[:min(5, len(have))]
	}
	return noChartf("no version of %s in %s matches %s; the newest are %s", name, source, version, strings.Join(newest, ", "))
}
