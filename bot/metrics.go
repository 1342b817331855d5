package bot

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var commandsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "gitops_bot_commands_total",
	Help: "Commands read from comments, by verb and outcome (ok, refused, usage, invalid, failed).",
}, []string{"verb", "outcome"})
