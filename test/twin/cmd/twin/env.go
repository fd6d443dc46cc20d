package main

import (
	"fmt"
	"io"

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
	fmt.Fprintf(out, "export KUBECONFIG=%s\nexport INFER_HPA_TWIN_KUBECONFIG=%s\nexport INFER_HPA_TWIN_CONTEXT=%s\n", s.Kubeconfig, s.Kubeconfig, s.Context)
	return nil
}
