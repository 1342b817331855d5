package alerts

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	alertsReceived   = promauto.NewCounter(prometheus.CounterOpts{Name: "gitops_bot_alerts_received_total", Help: "Alert groups received."})
	alertsMatched    = promauto.NewCounterVec(prometheus.CounterOpts{Name: "gitops_bot_alerts_matched_total", Help: "Alert groups matched, by rule."}, []string{"rule"})
	alertPRs         = promauto.NewCounterVec(prometheus.CounterOpts{Name: "gitops_bot_alert_pull_requests_total", Help: "Alert pull requests opened or updated."}, []string{"result"})
	alertsSuppressed = promauto.NewCounterVec(prometheus.CounterOpts{Name: "gitops_bot_alerts_suppressed_total", Help: "Alert actions not taken, by reason (cooldown, cap, ceiling, unknown_workload, nothing_to_roll_back)."}, []string{"reason"})
)
