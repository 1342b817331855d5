package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gitops-bot/gitops-bot/bot/config"
)

func validateCmd() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "validate [--kind server|repo] FILE...",
		Short: "Check a server configuration or a repository's .gitops-bot.yaml before it is used",
		Long: `Reads each FILE as the bot would and prints everything wrong with it, one a
line: the line, the key and what was expected. A file named .gitops-bot.yaml
is a repository configuration; any other is a server configuration (--config
of serve), checked with the environment variables serve would read and with
the checks serve makes at start (alert rules, tokens, the App's private key,
each cluster's kubeconfig), so a file that passes here starts. Keys spelled the old way are
reported and still accepted. The exit status is 1 when a file is not valid.

Editors can check .gitops-bot.yaml as it is typed with the JSON Schema in
docs/gitops-bot.schema.json.`,
		Example: `  gitops-bot validate deploy/base/config.yaml
  gitops-bot validate .gitops-bot.yaml
  gitops-bot validate --kind repo fleet-config.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" && kind != "server" && kind != "repo" {
				return fmt.Errorf("--kind %q: want server or repo", kind)
			}
			bad := 0
			for _, path := range args {
				notes, err := validateFile(path, kind)
				for _, n := range notes {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: note: %s\n", path, n)
				}
				if err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%v\n", err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", path)
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d files are not valid", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "server or repo (default: repo for files named .gitops-bot.yaml, else server)")
	return cmd
}

// validateFile checks one file; its errors start with the file's path.
func validateFile(path, kind string) ([]string, error) {
	if kind == "repo" || kind == "" && filepath.Base(path) == config.Path {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if len(b) > config.MaxBytes {
			return nil, fmt.Errorf("%s: %d bytes; a repository config may be at most %d", path, len(b), config.MaxBytes)
		}
		c, err := config.Parse(b)
		var ce *config.Error
		if errors.As(err, &ce) {
			// config.Error names .gitops-bot.yaml; name the file given.
			return nil, fmt.Errorf("%s: %s", path, ce.Msg)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return c.Notes(), nil
	}
	c, notes, err := loadServerConfig(path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	// What serve checks at start, all of it.
	switch err := c.check(); {
	case errors.Is(err, errNoHost):
		// A deployment's credentials come from a Secret, not this file.
		notes = append(notes, "no GitHub App or GitLab token here or in the environment; serve needs them (deploy/ reads them from the gitops-bot Secret)")
	case err != nil:
		return notes, err
	}
	return notes, nil
}
