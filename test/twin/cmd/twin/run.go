package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

func itoa(i int) string { return strconv.Itoa(i) }

func newRunCmd() *cobra.Command {
	f := &clusterFlags{}
	var stateDir string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the twin in the foreground until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runTwin(ctx, f, stateDir)
		},
	}
	f.addFlags(cmd.Flags())
	f.addDemoFlag(cmd.Flags())
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "keep the twin's files here and record it for `twin env`/`twin down`")
	return cmd
}

func runTwin(ctx context.Context, f *clusterFlags, stateDir string) error {
	opts := f.options()
	if stateDir != "" {
		opts.Dir = filepath.Join(stateDir, "cluster")
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return err
		}
	}
	t, stopTwin, err := startTwin(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		stopTwin()
		if stateDir != "" {
			_ = os.RemoveAll(opts.Dir)
			_ = os.Remove(statePath(stateDir))
		}
	}()
	s := &state{PID: os.Getpid(), Kubeconfig: t.Kubeconfig, Context: t.Context, Dir: t.Dir,
		EgressSocket: t.EgressSocket, GoogleEnv: t.GoogleEnv(), Demo: f.demo}
	if f.demo {
		if err := applyDemo(ctx, t); err != nil {
			return err
		}
	}
	if stateDir != "" {
		s.EnvFile = filepath.Join(stateDir, "twin.env")
		if err := os.WriteFile(s.EnvFile, []byte(exports(s)), 0o600); err != nil {
			return err
		}
		if err := writeState(stateDir, s); err != nil {
			return err
		}
	}
	fmt.Print(exports(s))
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "twin: stopping")
	return nil
}

// startTwin starts a twin that logs to stderr; call stop to end it.
func startTwin(ctx context.Context, opts twin.Options) (*twin.Twin, func(), error) {
	if err := twin.EnterNetNS(); err != nil {
		return nil, nil, err
	}
	opts.Log = os.Stderr
	t, err := twin.Start(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	return t, func() {
		if err := t.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "twin: stop:", err)
		}
	}, nil
}
