package suggest

import "testing"

func TestClosest(t *testing.T) {
	verbs := []string{"deploy", "promote", "set-image", "scale", "resources", "rollback", "plan", "status", "help", "verify"}
	for word, want := range map[string]string{
		"deplyo": "deploy", "Deploy": "deploy", "setimage": "set-image", "scael": "scale", "rolback": "rollback",
		"x": "", "kubectl": "", "helpme": "help", "promte": "promote",
	} {
		if got := Closest(word, verbs); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := Closest("vesion", []string{"version", "values", "env"}); got != "version" {
		t.Errorf("flag: %q", got)
	}
	if got := DidYouMean("kubeconfig", []string{"integrationID", "token"}, func(s string) string { return s }); got != "" {
		t.Errorf("too far: %q", got)
	}
	if got := DidYouMean("webhookSecrt", []string{"webhookSecret", "privateKey"}, func(s string) string { return "`" + s + "`" }); got != " Did you mean `webhookSecret`?" {
		t.Errorf("DidYouMean: %q", got)
	}
}
