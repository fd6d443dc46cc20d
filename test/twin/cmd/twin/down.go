package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func newDownCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the twin that `twin up` started, leaving no process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return down(cmd.OutOrStdout(), stateDir)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "the state dir given to `twin up`")
	return cmd
}

func down(out io.Writer, stateDir string) error {
	s, err := readState(stateDir)
	if err != nil {
		fmt.Fprintf(out, "no twin is up (no state in %s)\n", stateDir)
		return nil
	}
	if alive(s.PID) {
		_ = syscall.Kill(s.PID, syscall.SIGTERM)
		deadline := time.Now().Add(60 * time.Second)
		for alive(s.PID) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(s.PID) {
			_ = syscall.Kill(s.PID, syscall.SIGKILL)
		}
	}
	if err := os.RemoveAll(stateDir); err != nil {
		return err
	}
	fmt.Fprintf(out, "twin %s stopped\n", s.Context)
	return nil
}
