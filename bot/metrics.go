package bot

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	commandsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "gitops_bot_commands_total",
		Help: "Commands read from comments, by verb and outcome (ok, usage, denied, unknown, config, error, rejected).",
	}, []string{"verb", "outcome"})
	proposalsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "gitops_bot_pull_requests_total",
		Help: "Pull requests the bot opened or updated.",
	}, []string{"result"})
)
