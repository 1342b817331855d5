// Package suggest finds the word a person most likely meant: a verb, a
// flag or a configuration key spelled a little wrong.
package suggest

import (
	"strings"

	"github.com/agext/levenshtein"
)

// Closest returns the candidate nearest to word, or "" when none is near
// enough to be a slip: at most a third of the word's letters (at least
// two) may differ; case is ignored.
func Closest(word string, candidates []string) string {
	limit := max(2, len(word)/3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := levenshtein.Distance(strings.ToLower(word), strings.ToLower(c), nil); d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean is " Did you mean X?" for the closest candidate, or "".
func DidYouMean(word string, candidates []string, quote func(string) string) string {
	c := Closest(word, candidates)
	if c == "" {
		return ""
	}
	return " Did you mean " + quote(c) + "?"
}
