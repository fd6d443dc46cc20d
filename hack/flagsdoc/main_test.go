package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestWrite(t *testing.T) {
	root := &cobra.Command{Use: "tool"}
	root.PersistentFlags().String("cache-dir", "/home/me/.kube/cache", "Default cache directory")
	sub := &cobra.Command{Use: "sub [NAME]", Short: "Do it", Run: func(*cobra.Command, []string) {}}
	sub.Flags().StringP("output", "o", "yaml", "yaml or json")
	sub.Flags().String("dry-run", "none", "none|client|server")
	sub.Flags().Lookup("dry-run").NoOptDefVal = "client"
	sub.Flags().Bool("force", false, "Take\nfields")
	sub.Flags().Duration("since", 0, "log `AGE`")
	sub.Flags().Duration("timeout", 5*time.Minute, "how long")
	sub.Flags().StringArray("metric", nil, "repeatable")
	sub.Flags().String("path", "/metrics", "not under home")
	hidden := &cobra.Command{Use: "secret", Hidden: true, Run: func(*cobra.Command, []string) {}}
	root.AddCommand(sub, hidden)

	var b bytes.Buffer
	Write(&b, root, "/home/me")
	got := b.String()
	for _, want := range []string{
		"## tool sub\n\n`tool sub [NAME] [flags]` — Do it\n",
		"| `-o, --output string` | `yaml` | yaml or json |",
		"| `--dry-run string[=\"client\"]` | `none` | none\\|client\\|server |",
		"| `--force` |  | Take fields |",
		"| `--since AGE` |  | log AGE |",
		"| `--timeout duration` | `5m0s` | how long |",
		"| `--metric stringArray` |  | repeatable |",
		"| `--path string` | `/metrics` | not under home |",
		"| `--cache-dir string` | `$HOME/.kube/cache` | Default cache directory |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret") || strings.Contains(got, "| `-h, --help") {
		t.Errorf("hidden command or --help listed:\n%s", got)
	}
}
