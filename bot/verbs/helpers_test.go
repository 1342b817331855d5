package verbs_test

import "github.com/gitops-bot/gitops-bot/bot/bottest"

const (
	podinfo = bottest.Podinfo
	web     = bottest.Web
)
