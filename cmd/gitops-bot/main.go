// Command gitops-bot turns slash commands in issue and pull request comments
// into reviewed GitOps pull requests for Argo CD and Flux.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3" (the
// Dockerfile's VERSION). Unset, it comes from what Go stamps in the binary:
// the module version of `go install ...@v1.2.3`, or the commit it was built
// from.
var version = "dev"

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = versionOf(version, bi)
	}
}

// versionOf is the version to report: set, the module's, or the commit's.
func versionOf(set string, bi *debug.BuildInfo) string {
	if set != "dev" {
		return set
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return fmt.Sprintf("dev-%s%s (%s)", rev, dirty, when)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gitops-bot:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gitops-bot",
		Short:         "GitOps pull requests from slash commands, for Argo CD and Flux",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), localCmd(), renderCmd(), previewCmd(), validateCmd(), versionCmd())
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "gitops-bot", version, runtime.Version())
		},
	}
}
