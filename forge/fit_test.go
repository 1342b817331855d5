package forge

import (
	"strings"
	"testing"
)

// A body over the host's limit is cut before the bot's markers, which are
// kept whole, and says how much was left out.
func TestFitKeepsMarkers(t *testing.T) {
	marker := "<!-- gitops-bot:marker {\"verb\": \"deploy\"} -->"
	body := strings.Repeat("| alert | x |\n", 10000) + "\n" + marker
	got := Fit(body, GitHubBodyMax)
	if len(got) > GitHubBodyMax || !strings.HasSuffix(got, marker) || !strings.Contains(got, "characters left out") {
		t.Errorf("len %d, marker kept %v", len(got), strings.HasSuffix(got, marker))
	}
	if short := "a reply\n\n" + marker; Fit(short, GitHubBodyMax) != short {
		t.Error("a short body was changed")
	}
	if got := Fit(strings.Repeat("é", 40000), GitHubBodyMax); len(got) > GitHubBodyMax || !strings.Contains(got, "left out") {
		t.Errorf("multi-byte text: len %d", len(got))
	}
}
