package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/alerts"
	"github.com/gitops-bot/gitops-bot/bot/config/yamlconf"
	"github.com/gitops-bot/gitops-bot/forge/hostcall"
	"github.com/palantir/go-githubapp/githubapp"
	"gopkg.in/yaml.v3"
)

// serverConfig is the file given with --config. Keys are camelCase; the
// snake_case spellings of earlier versions (github.app.webhook_secret) are
// read as aliases. Environment variables (see envVars) override the file.
type serverConfig struct {
	Listen  string       `yaml:"listen"`
	DataDir string       `yaml:"dataDir"`
	GitHub  githubConfig `yaml:"github"`
	GitLab  gitlabConfig `yaml:"gitlab"`
	// Clusters by name; environments in repository configs refer to them.
	// The default cluster ("") needs no entry: see defaultCluster.
	Clusters map[string]clusterConfig `yaml:"clusters"`
	Verify   struct {
		Workers int `yaml:"workers"`
	} `yaml:"verify"`
	Alerts struct {
		Token string        `yaml:"token"`
		Rules []alerts.Rule `yaml:"rules"`
	} `yaml:"alerts"`
	// Store: where accepted deliveries, pending verifications and the
	// alert state are kept. Unset: embedded files under dataDir (one
	// replica). Kubernetes: the bot's own objects (deploy/base/crd-*.yaml)
	// and Leases in this namespace of the cluster the bot runs in, shared
	// by replicas: each delivery and verification is held by one.
	Store struct {
		Kubernetes struct {
			Namespace string `yaml:"namespace"`
		} `yaml:"kubernetes"`
	} `yaml:"store"`
	// shared is the Kubernetes store, built from the environment in
	// serve's command.
	shared *sharedStore
	// Where the values came from, so that a problem names the file's line
	// or the variable: the file's path and lines, and the variable that
	// set each key it sets.
	path    string
	file    *yamlconf.File
	fromEnv map[string]string
	// CatchUp: how often the GitHub App's failed deliveries are looked
	// for and redelivered (default 10m; at start too).
	CatchUp struct {
		Every    time.Duration `yaml:"every"`
		Disabled bool          `yaml:"disabled"`
	} `yaml:"catchUp"`
	// ShutdownGrace: how long the work in hand may finish after SIGTERM
	// (default 15s); what is left is resumed by the next start.
	ShutdownGrace time.Duration `yaml:"shutdownGrace"`
	Queue         struct {
		Size    int           `yaml:"size"`
		Workers int           `yaml:"workers"`
		Timeout time.Duration `yaml:"timeout"`
	} `yaml:"queue"`
	// Mirrors: the local mirrors of the repositories the bot reads, under
	// DataDir/mirrors.
	Mirrors struct {
		// Disabled reads every file through the hosts' APIs.
		Disabled bool `yaml:"disabled"`
		// MaxBytes bounds their size on disk (default 10 GiB); the mirrors
		// not used for longest are removed first.
		MaxBytes int64 `yaml:"maxBytes"`
	} `yaml:"mirrors"`
	// HostCalls: how calls to GitHub and GitLab are retried and paced
	// (forge/hostcall); unset, the hosts' documented rules.
	HostCalls struct {
		// SecondaryWait: the least wait after a rate limit naming no time (1m).
		SecondaryWait time.Duration `yaml:"secondaryWait"`
		// ErrorWait: the first wait after a server error, then doubled (1s).
		ErrorWait time.Duration `yaml:"errorWait"`
		// Content-creating requests per installation or token (80, 500).
		WritesPerMinute int `yaml:"writesPerMinute"`
		WritesPerHour   int `yaml:"writesPerHour"`
	} `yaml:"hostCalls"`
	// Status: the read-only status page at "/".
	Status struct {
		// Token, when set, is asked for (bearer, or basic auth's password).
		Token    string `yaml:"token"`
		Disabled bool   `yaml:"disabled"`
	} `yaml:"status"`
	// Charts: rendering the charts of Helm repositories to judge a change
	// of a release's values.
	Charts struct {
		// Disabled judges releases on their values only.
		Disabled bool `yaml:"disabled"`
	} `yaml:"charts"`
	// Preview: the rendered-diff check on pull requests.
	Preview struct {
		// Delay lets a burst of pushes settle: one preview, of the newest
		// head (default 3s).
		Delay time.Duration `yaml:"delay"`
		// Timeout bounds one pull request's preview (default 2m).
		Timeout time.Duration `yaml:"timeout"`
	} `yaml:"preview"`
}

// shutdownGrace is how long a stopping bot lets the work in hand finish
// (Kubernetes' default termination grace is 30s; the HTTP shutdown and the
// exit need the rest).
func (c *serverConfig) shutdownGrace() time.Duration {
	if c.ShutdownGrace > 0 {
		return c.ShutdownGrace
	}
	return 15 * time.Second
}

// hostCallTimeout bounds one call to a host, its retries and waits included.
const hostCallTimeout = 10 * time.Minute

// hostcall is the retry and pacing policy of calls to the hosts.
func (c *serverConfig) hostcall(log *slog.Logger) hostcall.Options {
	h := c.HostCalls
	perMinute, perHour := h.WritesPerMinute, h.WritesPerHour
	if perMinute == 0 {
		perMinute = hostcall.DefaultWrites[0].N
	}
	if perHour == 0 {
		perHour = hostcall.DefaultWrites[1].N
	}
	return hostcall.Options{SecondaryWait: h.SecondaryWait, ErrorWait: h.ErrorWait, Log: log,
		Writes: []hostcall.Limit{{N: perMinute, Per: time.Minute}, {N: perHour, Per: time.Hour}}}
}

// chartTimeout bounds fetching a chart to render it.
const chartTimeout = 20 * time.Second

// defaultMirrorBytes bounds the mirrors when the config does not.
const defaultMirrorBytes = 10 << 30

// githubConfig is go-githubapp's configuration under camelCase keys.
type githubConfig struct {
	WebURL   string `yaml:"webURL"`
	V3APIURL string `yaml:"v3APIURL"`
	V4APIURL string `yaml:"v4APIURL"`
	App      struct {
		IntegrationID int64  `yaml:"integrationID"`
		WebhookSecret string `yaml:"webhookSecret"`
		PrivateKey    string `yaml:"privateKey"`
	} `yaml:"app"`
	OAuth struct {
		ClientID     string `yaml:"clientID"`
		ClientSecret string `yaml:"clientSecret"`
	} `yaml:"oauth"`
}

// appConfig is the configuration as go-githubapp takes it.
func (g githubConfig) appConfig() githubapp.Config {
	var c githubapp.Config
	c.WebURL, c.V3APIURL, c.V4APIURL = g.WebURL, g.V3APIURL, g.V4APIURL
	c.App.IntegrationID, c.App.WebhookSecret, c.App.PrivateKey = g.App.IntegrationID, g.App.WebhookSecret, g.App.PrivateKey
	c.OAuth.ClientID, c.OAuth.ClientSecret = g.OAuth.ClientID, g.OAuth.ClientSecret
	return c
}

// gitlabConfig: the bot user's token (scope "api") and the webhook's secret
// token; baseURL for self-managed GitLab.
type gitlabConfig struct {
	BaseURL       string `yaml:"baseURL"`
	Token         string `yaml:"token"`
	WebhookSecret string `yaml:"webhookSecret"`
	BotUser       string `yaml:"botUser"`
}

func (g gitlabConfig) enabled() bool {
	return g.Token != "" || g.WebhookSecret != "" || g.BaseURL != ""
}

type clusterConfig struct {
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
	InCluster  bool   `yaml:"inCluster"`
}

// inConfigMap returns the config.yaml of a ConfigMap manifest (as
// deploy/base ships the configuration), placed on the lines it has in the
// manifest so that errors name the manifest's lines.
func inConfigMap(b []byte) ([]byte, bool) {
	var cm struct {
		Kind string `yaml:"kind"`
		Data struct {
			Config yaml.Node `yaml:"config.yaml"`
		} `yaml:"data"`
	}
	if yaml.Unmarshal(b, &cm) != nil || cm.Kind != "ConfigMap" || cm.Data.Config.Kind != yaml.ScalarNode {
		return nil, false
	}
	return append(bytes.Repeat([]byte("\n"), cm.Data.Config.Line), cm.Data.Config.Value...), true
}

// envVars are the environment variables that override the file, with
// the key each sets (go-githubapp's names for GitHub).
func (c *serverConfig) envVars() []envVar {
	return []envVar{
		{"GITHUB_WEB_URL", "github.webURL", &c.GitHub.WebURL},
		{"GITHUB_V3_API_URL", "github.v3APIURL", &c.GitHub.V3APIURL},
		{"GITHUB_V4_API_URL", "github.v4APIURL", &c.GitHub.V4APIURL},
		{"GITHUB_APP_INTEGRATION_ID", "github.app.integrationID", &c.GitHub.App.IntegrationID},
		{"GITHUB_APP_WEBHOOK_SECRET", "github.app.webhookSecret", &c.GitHub.App.WebhookSecret},
		{"GITHUB_APP_PRIVATE_KEY", "github.app.privateKey", &c.GitHub.App.PrivateKey},
		{"GITHUB_OAUTH_CLIENT_ID", "github.oauth.clientID", &c.GitHub.OAuth.ClientID},
		{"GITHUB_OAUTH_CLIENT_SECRET", "github.oauth.clientSecret", &c.GitHub.OAuth.ClientSecret},
		{"GITLAB_BASE_URL", "gitlab.baseURL", &c.GitLab.BaseURL},
		{"GITLAB_TOKEN", "gitlab.token", &c.GitLab.Token},
		{"GITLAB_WEBHOOK_SECRET", "gitlab.webhookSecret", &c.GitLab.WebhookSecret},
		{"GITLAB_BOT_USER", "gitlab.botUser", &c.GitLab.BotUser},
		{"ALERTMANAGER_TOKEN", "alerts.token", &c.Alerts.Token},
		{"GITOPS_BOT_STATUS_TOKEN", "status.token", &c.Status.Token},
	}
}

type envVar struct {
	name, key string
	to        any // *string or *int64
}

// loadServerConfig reads the file at path (none: "") and the environment
// through lookup. Errors name the file, the line and the key, or the
// variable; notes are old spellings the file still uses.
func loadServerConfig(path string, lookup func(string) (string, bool)) (c *serverConfig, notes []string, err error) {
	c = &serverConfig{path: path, fromEnv: map[string]string{}}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		if embedded, ok := inConfigMap(b); ok {
			b = embedded
		}
		file, err := yamlconf.Decode(b, c)
		if err != nil {
			return nil, nil, inFile(path, err)
		}
		c.file, notes = file, file.Aliases
	}
	for _, e := range c.envVars() {
		v, ok := lookup(e.name)
		if !ok {
			continue
		}
		c.fromEnv[e.key] = e.name
		switch to := e.to.(type) {
		case *string:
			*to = v
		case *int64:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n <= 0 {
				return nil, nil, fmt.Errorf("%s=%q: want the App's ID, a whole number (the App's settings page shows it as \"App ID\")", e.name, v)
			}
			*to = n
		}
	}
	return c, notes, nil
}

func (c *serverConfig) githubEnabled() bool {
	a := c.GitHub.App
	return a.IntegrationID != 0 || a.WebhookSecret != "" || a.PrivateKey != ""
}

// errNoHost: the configuration, with the environment, names no host.
var errNoHost = errors.New("neither GitHub nor GitLab is configured: see the README's server configuration")

// check is what serve refuses to start with: every problem, one a line;
// errNoHost when there are none and no host is configured (serve then
// offers the GitHub App setup page).
func (c *serverConfig) check() error {
	if errs := c.problems(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if !c.githubEnabled() && !c.GitLab.enabled() {
		return errNoHost
	}
	return nil
}

// inFile names path in front of each of err's lines.
func inFile(path string, err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", path, e)
	}
	return errors.Join(out...)
}
