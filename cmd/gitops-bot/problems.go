package main

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/bradleyfalzon/ghinstallation/v2"

	"github.com/gitops-bot/gitops-bot/bot/config/yamlconf"
)

// problems lists everything in the configuration that serve would refuse
// at start, each naming its key, its line in the file (or the variable
// that set it) and what was wanted. validate prints the same list, so a
// file it passes starts.
func (c *serverConfig) problems() []error {
	var out []error
	want := func(key, format string, args ...any) {
		out = append(out, c.at(key, fmt.Sprintf(format, args...)))
	}
	if len(c.Alerts.Rules) > 0 && c.Alerts.Token == "" {
		want("alerts.token", "want the token Alertmanager sends (http_config authorization credentials), or ALERTMANAGER_TOKEN: alert rules are configured and the receiver does not accept unauthenticated alerts")
	}
	for i := range c.Alerts.Rules {
		for _, e := range c.Alerts.Rules[i].Check() {
			want(fmt.Sprintf("alerts.rules[%d].%s", i, e.Key), "%s", e.Msg)
		}
	}
	if c.GitLab.enabled() {
		if c.GitLab.WebhookSecret == "" {
			want("gitlab.webhookSecret", "want the webhook's secret token, or GITLAB_WEBHOOK_SECRET: the bot does not accept unauthenticated webhooks")
		}
		if c.GitLab.Token == "" {
			want("gitlab.token", "want a bot user's token with the api scope, or GITLAB_TOKEN")
		}
	}
	if c.githubEnabled() {
		gh := c.GitHub.App
		if gh.WebhookSecret == "" {
			want("github.app.webhookSecret", "want the App's webhook secret, or GITHUB_APP_WEBHOOK_SECRET: the bot does not accept unsigned webhooks")
		}
		if gh.IntegrationID == 0 {
			want("github.app.integrationID", "want the App's ID, a whole number (its settings page shows it as \"App ID\"), or GITHUB_APP_INTEGRATION_ID")
		}
		if gh.PrivateKey == "" {
			want("github.app.privateKey", "want the App's private key, or GITHUB_APP_PRIVATE_KEY")
		} else if _, err := ghinstallation.NewAppsTransport(http.DefaultTransport, gh.IntegrationID, []byte(gh.PrivateKey)); err != nil {
			// The parser the App's client will use, so what passes here signs.
			want("github.app.privateKey", "want the PEM file GitHub generated for the App (-----BEGIN RSA PRIVATE KEY-----): %v", err)
		}
	}
	names := make([]string, 0, len(c.Clusters))
	for name := range c.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			want("clusters", "a cluster needs a name")
			continue
		}
		cl := c.Clusters[name]
		key := "clusters." + name + ".kubeconfig"
		if cl.InCluster {
			key = "clusters." + name + ".inCluster"
		}
		if _, err := clusterRestConfig(cl); err != nil {
			want(key, "want a kubeconfig file that loads (and its context, if set), or inCluster: true in a pod: %v", err)
		}
	}
	return out
}

// at is a problem with key's value, placed where the value came from: the
// variable that set it, else the line of the key (or of the nearest key
// above it) in the file.
func (c *serverConfig) at(key, msg string) error {
	if v, ok := c.fromEnv[key]; ok {
		return fmt.Errorf("%s (%s): %s", v, key, msg)
	}
	err := c.file.Locate(&yamlconf.Error{Key: key, Msg: msg})
	if c.path == "" {
		return err
	}
	return fmt.Errorf("%s: %w", c.path, err)
}
