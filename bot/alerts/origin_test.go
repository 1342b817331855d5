package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A group of 3,000 alerts lists its first ones and counts the rest: the
// account stays far inside a pull request body's limit.
func TestOriginOfAHugeGroup(t *testing.T) {
	g := Group{GroupKey: `{}:{alertname="PodOOMKilled"}`}
	for i := range 3000 {
		g.Alerts = append(g.Alerts, Alert{Status: "firing", StartsAt: time.Unix(0, 0),
			Labels:      map[string]string{"alertname": "PodOOMKilled", "pod": fmt.Sprintf("web-%d", i), "namespace": "apps"},
			Annotations: map[string]string{"summary": strings.Repeat("the pod ran out of memory ", 20)}})
	}
	body := origin(&Rule{Name: "oom", Action: "raise-memory", Step: "50%", Max: "2Gi"}, g)
	if len(body) > 20000 {
		t.Errorf("account of %d bytes", len(body))
	}
	if rows := strings.Count(body, "| `PodOOMKilled` |"); rows != maxListedAlerts || !strings.Contains(body, "and 2980 more alerts") {
		t.Errorf("account:\n%.2000s", body)
	}
}
