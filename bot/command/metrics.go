package command

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var proposalsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "gitops_bot_pull_requests_total",
	Help: "Pull requests the bot opened or updated.",
}, []string{"result"})
