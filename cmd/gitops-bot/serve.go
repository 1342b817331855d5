package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gitopsbot "github.com/gitops-bot/gitops-bot"
	"github.com/gitops-bot/gitops-bot/forge/github/appsetup"
	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/hostcall"
	"github.com/gitops-bot/gitops-bot/forge/inbox"
	"github.com/gitops-bot/gitops-bot/forge/mirror"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/bot/alertmanager"
	"github.com/gitops-bot/gitops-bot/bot/alerts"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/statuspage"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/github"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

func serveCmd() *cobra.Command {
	var configPath, listen, dataDir, kubeconfig, logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the webhook server",
		Long:  serveHelp(),
		Example: `  gitops-bot serve --config /etc/gitops-bot/config.yaml
  GITHUB_APP_INTEGRATION_ID=12345 GITHUB_APP_WEBHOOK_SECRET=... GITHUB_APP_PRIVATE_KEY="$(cat app.pem)" gitops-bot serve --log-level debug
  gitops-bot validate /etc/gitops-bot/config.yaml   # check a configuration first`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg, notes, err := loadServerConfig(configPath, os.LookupEnv)
			if err != nil {
				return err
			}
			for _, n := range notes {
				log.Warn("config: "+n, "file", configPath)
			}
			if cmd.Flags().Changed("listen") || cfg.Listen == "" {
				cfg.Listen = listen
			}
			if cmd.Flags().Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			// Every problem at once, before anything connects.
			if err := cfg.check(); err != nil && !errors.Is(err, errNoHost) {
				return err
			}
			cls, err := clusters(cfg, kubeconfig)
			if err != nil {
				return err
			}
			if ns := cfg.Store.Kubernetes.Namespace; ns != "" {
				rc, err := defaultCluster(kubeconfig)
				if err != nil || rc == nil {
					return fmt.Errorf("store.kubernetes: no cluster to keep deliveries in (in-cluster config or --kubeconfig): %v", err)
				}
				self := os.Getenv("POD_NAME")
				if self == "" {
					self, _ = os.Hostname() // a pod's host name is its name
				}
				if cfg.shared, err = newSharedStore(rc, ns, self); err != nil {
					return err
				}
			}
			if _, ok := cls[""]; !ok {
				log.Warn("no default cluster (no --kubeconfig, KUBECONFIG, in-cluster config or ~/.kube/config): environments without a named cluster are not verified")
			}
			return serve(cmd.Context(), cfg, cls, log)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "server configuration `FILE` (YAML)")
	cmd.Flags().StringVar(&listen, "listen", ":8080", "`ADDRESS` to listen on")
	cmd.Flags().StringVar(&dataDir, "data-dir", "data", "`DIR` of the bot's store of pending verifications and of the repositories' local mirrors")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig `FILE` of the default cluster (default: KUBECONFIG, in-cluster, ~/.kube/config)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "least `LEVEL` logged: debug, info, warn or error")
	return cmd
}

// serveHelp lists every route and every environment variable serve reads.
func serveHelp() string {
	var b strings.Builder
	b.WriteString(`Runs the bot: the webhooks, the post-merge verifications and the alert receiver.

Routes (each webhook only when its host is configured):
`)
	for _, r := range routes {
		fmt.Fprintf(&b, "  %-30s %s\n", r.path, r.what)
	}
	b.WriteString(`
Configuration comes from --config (YAML; check it with "gitops-bot validate"),
with these environment variables on top:
`)
	for _, e := range (&serverConfig{}).envVars() {
		fmt.Fprintf(&b, "  %-30s %s\n", e.name, e.key)
	}
	fmt.Fprintf(&b, "  %-30s %s\n", "POD_NAME", "this replica's name in the Kubernetes store (default: the host name)")
	fmt.Fprintf(&b, "  %-30s %s\n", "KUBECONFIG", "the default cluster, when --kubeconfig is not given")
	return b.String()
}

// routes are the paths serve answers on.
var routes = []struct{ path, what string }{
	{"POST /api/github/hook", "GitHub App webhook (github.app.*)"},
	{"POST /api/gitlab/hook", "GitLab webhook (gitlab.*)"},
	{"POST /api/alerts/alertmanager", "Alertmanager webhook receiver (alerts.rules; Authorization: Bearer alerts.token)"},
	{"GET /", "status page: health, pending verifications, recent commands and alerts (status.token, if set)"},
	{"GET /setup", "GitHub App setup page: creates the App with GitHub's manifest flow (only while no App is configured)"},
	{"GET /healthz", "liveness: the process answers"},
	{"GET /readyz", "readiness: the start-up checks passed and the bot is not stopping"},
	{"GET /metrics", "Prometheus metrics"},
}

// recentActivity is how many commands and alert actions the status page
// shows.
const recentActivity = 200

// defaultPreviewDelay lets a burst of pushes to a pull request settle.
const defaultPreviewDelay = 3 * time.Second

// serve runs until ctx is cancelled (SIGTERM), then stops as a rolling
// update wants: /readyz turns unready, no new delivery is taken, the work
// in hand gets up to shutdownGrace to finish, and what is left stays in the
// inbox for the next start.
func serve(ctx context.Context, cfg *serverConfig, cls cluster.Set, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if cfg.shared != nil {
		// Before any delivery is taken: what this replica holds is known
		// alive through this Lease.
		if err := cfg.shared.replicas.Start(work); err != nil {
			ln.Close()
			return err
		}
		defer cfg.shared.replicas.Release(context.WithoutCancel(ctx))
	}
	s, err := newServer(work, ctx, cfg, cls, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.close()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		s.readiness.stop()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown) //nolint:errcheck // best effort: the listener closes either way
		deadline := time.Now().Add(cfg.shutdownGrace())
		for s.pending() > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		log.Info("stopping", "deliveries_left_for_the_next_start", s.pending())
		stopWork()
	}()
	log.Info("serving", "addr", ln.Addr().String(), "version", version)
	every := recheck
	if s.setup {
		every = 24 * time.Hour // nothing changes without a restart: said once, not every 30s
	}
	go s.readiness.run(work, s.checks, log, every)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}

type server struct {
	http.Handler
	readiness readiness
	checks    []startupCheck // what must work before /readyz says ready
	verifier  *verify.Verifier
	close     func()
	pending   func() int // deliveries queued or running here
	setup     bool       // no host configured: the setup page only
}

// newServer wires the bot: webhook, verifier (running until ctx ends) and
// the health and metrics routes.
func newServer(ctx, intake context.Context, cfg *serverConfig, cls cluster.Set, log *slog.Logger) (*server, error) {
	err := cfg.check()
	if errors.Is(err, errNoHost) {
		return setupServer(cfg, log)
	}
	if err != nil {
		return nil, err
	}
	// The deliveries acknowledged and not yet handled, the pending
	// verifications, the alert rules' memory: a restart (or another
	// replica) resumes from them.
	var (
		inb         inbox.Inbox
		store       verify.Store
		alertState  alerts.StateStore
		closeStores = func() {}
	)
	if sh := cfg.shared; sh != nil {
		inb, store, alertState = sh.inbox, sh.verifications, sh.alerts
	} else {
		files, err := verify.OpenStore(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		local, err := inbox.Open(cfg.DataDir)
		if err != nil {
			files.Close()
			return nil, err
		}
		inb, store, alertState = local, files, alerts.StateFile(filepath.Join(cfg.DataDir, "alerts.json"))
		closeStores = func() { files.Close(); local.Close() }
	}
	b := bot.New(log)
	b.PreviewDelay, b.PreviewTimeout = cfg.Preview.Delay, cfg.Preview.Timeout
	if b.PreviewDelay == 0 {
		b.PreviewDelay = defaultPreviewDelay
	}
	recent := activity.New(recentActivity)
	b.Activity = recent
	if !cfg.Mirrors.Disabled {
		max := cfg.Mirrors.MaxBytes
		if max == 0 {
			max = defaultMirrorBytes
		}
		mirrors, err := mirror.New(filepath.Join(cfg.DataDir, "mirrors"), mirror.Options{MaxBytes: max, Log: log})
		if err != nil {
			closeStores()
			return nil, err
		}
		b.Snapshots = snapshot.Source{Mirrors: mirrors}
	}
	if !cfg.Charts.Disabled {
		b.Charts = chartrender.New(&http.Client{Timeout: chartTimeout}, chartTimeout)
	}
	mux := http.NewServeMux()
	var enabled []string // routes, for the start-up log
	var checks []startupCheck
	connectors := forge.Connectors{}
	flight := &inbox.Flight{Inbox: inb, Log: log}
	delivery := hook.Options{QueueSize: cfg.Queue.Size, Workers: cfg.Queue.Workers, Timeout: cfg.Queue.Timeout, Log: log,
		Context: ctx, Intake: intake, Inbox: inb, Flight: flight}
	repos := map[string]alerts.RepoOpener{}
	if cfg.githubEnabled() {
		cc, err := githubapp.NewDefaultCachingClientCreator(cfg.GitHub.appConfig(),
			githubapp.WithClientUserAgent("gitops-bot/"+version),
			// One attempt is bounded by hostcall; a call with its retries by
			// the delivery's context, and by this.
			githubapp.WithClientTimeout(hostCallTimeout),
			// Each installation's client gets its own retries and pacing.
			githubapp.WithClientMiddleware(func(next http.RoundTripper) http.RoundTripper {
				return hostcall.Transport(next, cfg.hostcall(log))
			}),
		)
		if err != nil {
			closeStores()
			return nil, fmt.Errorf("github: %w", err)
		}
		wh, err := github.NewWebhook(cc, b, github.Options{Secret: cfg.GitHub.App.WebhookSecret, WebURL: cfg.GitHub.WebURL, Options: delivery})
		if err != nil {
			closeStores()
			return nil, err
		}
		mux.Handle("/api/github/hook", wh)
		enabled = append(enabled, "POST /api/github/hook")
		if !cfg.CatchUp.Disabled {
			every := cfg.CatchUp.Every
			if every <= 0 {
				every = 10 * time.Minute
			}
			go (&github.CatchUp{CC: cc, Inbox: inb, Log: log}).Run(ctx, min(5*time.Second, every), every)
		}
		connectors["github"] = github.Connector{CC: cc}
		checks = append(checks, githubCheck(cc))
		repos["github"] = github.AppRepos{CC: cc, WebURL: cfg.GitHub.WebURL}
	}
	if cfg.GitLab.enabled() {
		opts := gitlab.HostCallOptions(cfg.hostcall(log))
		if cfg.GitLab.BaseURL != "" {
			opts = append(opts, gl.WithBaseURL(cfg.GitLab.BaseURL))
		}
		api, err := gl.NewClient(cfg.GitLab.Token, opts...)
		if err != nil {
			closeStores()
			return nil, fmt.Errorf("gitlab: %w", err)
		}
		wh, err := gitlab.NewWebhook(api, b, gitlab.Options{Secret: cfg.GitLab.WebhookSecret, BotUser: cfg.GitLab.BotUser, Token: cfg.GitLab.Token, Options: delivery})
		if err != nil {
			closeStores()
			return nil, err
		}
		mux.Handle("/api/gitlab/hook", wh)
		enabled = append(enabled, "POST /api/gitlab/hook")
		connectors["gitlab"] = gitlab.Connector{API: api}
		checks = append(checks, gitlabCheck(api))
		repos["gitlab"] = gitlab.Repos{API: api, Token: cfg.GitLab.Token}
	}
	verifier := verify.New(verify.Options{Store: store, Clusters: cls, Connector: connectors, Log: log, Workers: cfg.Verify.Workers})
	b.Verifier, b.Owners = verifier, cls
	if len(cfg.Alerts.Rules) > 0 {
		receiver, err := alertmanager.New(&alerts.Handler{Rules: cfg.Alerts.Rules, Repos: repos, Owners: cls, Snapshots: b.Snapshots, Charts: b.Charts, Log: log,
			State: alertState, Activity: recent}, alertmanager.Options{Token: cfg.Alerts.Token, Options: delivery})
		if err != nil {
			closeStores()
			return nil, err
		}
		mux.Handle("/api/alerts/alertmanager", receiver)
		enabled = append(enabled, "POST /api/alerts/alertmanager")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		verifier.Run(ctx)
	}()
	names := make([]string, 0, len(cls))
	for name := range cls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		checks = append(checks, clusterCheck(cls[name]))
	}
	s := &server{verifier: verifier, pending: flight.InFlight, checks: checks, close: func() {
		<-done
		closeStores()
		for _, c := range cls {
			c.Stop()
		}
	}}
	s.probes(mux)
	mux.Handle("GET /metrics", promhttp.Handler())
	enabled = append(enabled, "GET /healthz", "GET /readyz", "GET /metrics")
	if !cfg.githubEnabled() {
		appSetup(cfg, log).Routes(mux)
		enabled = append(enabled, "GET /setup")
	}
	if !cfg.Status.Disabled {
		mux.Handle("GET /{$}", &statuspage.Page{Token: cfg.Status.Token, Version: version, Checks: s.readiness.last,
			Ready: s.readiness.state, Pending: verifier.Snapshot, Activity: recent})
		enabled = append(enabled, "GET /")
	}
	log.Info("routes", "enabled", enabled, "alert_rules", len(cfg.Alerts.Rules), "clusters", len(cls))
	s.Handler = mux
	return s, nil
}

// probes mounts liveness, and readiness as the start-up checks say.
func (s *server) probes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, why := s.readiness.state()
		if !ready {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, why)
	})
}

// appSetup is the GitHub App setup page of a server with no App.
func appSetup(cfg *serverConfig, log *slog.Logger) *appsetup.Setup {
	return &appsetup.Setup{Manifest: gitopsbot.AppManifest, WebURL: cfg.GitHub.WebURL, APIURL: cfg.GitHub.V3APIURL,
		SaveTo: filepath.Join(cfg.DataDir, "github-app.yaml"), Client: &http.Client{Timeout: 30 * time.Second}, Log: log}
}

// setupServer is serve with no host configured: it serves the GitHub App
// setup page (and / sends there), and is never ready.
func setupServer(cfg *serverConfig, log *slog.Logger) (*server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	appSetup(cfg, log).Routes(mux)
	mux.Handle("GET /{$}", http.RedirectHandler("/setup", http.StatusSeeOther))
	s := &server{Handler: mux, close: func() {}, pending: func() int { return 0 }, setup: true,
		checks: []startupCheck{{name: "configuration", run: func(context.Context) ([]string, error) {
			return nil, errors.New("neither a GitHub App nor GitLab is configured: open /setup on this server to create the GitHub App, or configure GitLab (see the README)")
		}}}}
	s.probes(mux) // never ready: its one check fails
	log.Warn("no GitHub App or GitLab configured: serving the GitHub App setup page", "routes", []string{"GET /setup", "GET /healthz", "GET /readyz"})
	return s, nil
}
