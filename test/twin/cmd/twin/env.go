package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func newEnvCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print shell exports for the running twin: eval \"$(twin env)\"",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return env(cmd.OutOrStdout(), stateDir)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "the state dir given to `twin up`")
	return cmd
}

func env(out io.Writer, stateDir string) error {
	s, err := readState(stateDir)
	if err != nil || !alive(s.PID) {
		return fmt.Errorf("no twin is up in %s; start one with `twin up`", stateDir)
	}
	fmt.Fprint(out, exports(s))
	return nil
}

// exports renders the twin's environment as shell exports.
func exports(s *state) string {
	var b strings.Builder
	fmt.Fprintf(&b, "export KUBECONFIG=%s\nexport INFER_HPA_TWIN_KUBECONFIG=%s\nexport INFER_HPA_TWIN_CONTEXT=%s\n", s.Kubeconfig, s.Kubeconfig, s.Context)
	for _, kv := range s.GoogleEnv {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, v)
	}
	return b.String()
}
