package alerts

import "testing"

// Rules accept the matchers Alertmanager accepts, read by its own parser.
func TestMatchersAsAlertmanagerReadsThem(t *testing.T) {
	labels := map[string]string{"alertname": "PodOOMKilled", "severity": "critical", "namespace": "web"}
	cases := []struct {
		in    string
		match bool
	}{
		{`alertname="PodOOMKilled"`, true},
		{`alertname=PodOOMKilled`, true}, // unquoted, as amtool and routes allow
		{`alertname!="PodOOMKilled"`, false},
		{`severity=~"crit.*"`, true},
		{`severity=~"crit"`, false}, // anchored, as Alertmanager does
		{`severity!~"info|warning"`, true},
		{`{alertname="PodOOMKilled", severity="critical"}`, true},
		{`{alertname="PodOOMKilled", severity="warning"}`, false},
		{`missing=""`, true}, // an absent label is the empty string
	}
	for _, c := range cases {
		m, err := ParseMatcher(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := m.matches(labels); got != c.match {
			t.Errorf("%s matches %v, want %v", c.in, got, c.match)
		}
	}
	for _, bad := range []string{``, `alertname`, `severity=~"("`, `=b`} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestRaiseMemory(t *testing.T) {
	cases := []struct{ cur, step, max, want string }{
		{"256Mi", "128Mi", "1Gi", "384Mi"},
		{"", "128Mi", "1Gi", "128Mi"},
		{"960Mi", "128Mi", "1Gi", "1Gi"},
		{"1Gi", "128Mi", "1Gi", ""},
		{"2Gi", "128Mi", "1Gi", ""},
	}
	for _, c := range cases {
		got, ok := raise(c.cur, c.step, c.max)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("raise(%s, %s, %s) = %q %v, want %q", c.cur, c.step, c.max, got, ok, c.want)
		}
	}
}
