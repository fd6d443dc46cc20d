package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

func newExecCmd() *cobra.Command {
	f := &clusterFlags{}
	cmd := &cobra.Command{
		Use:   "exec [flags] -- CMD [ARGS...]",
		Short: "Start a twin, run CMD with KUBECONFIG set to it, stop the twin, exit with CMD's code",
		Long: `Start a twin, run CMD with KUBECONFIG and INFER_HPA_TWIN_KUBECONFIG set to
its admin kubeconfig (context in INFER_HPA_TWIN_CONTEXT), stop the twin and
exit with CMD's exit code. As root, the twin and CMD run in a network
namespace of their own whose only interface is lo (opt out with
INFER_HPA_TWIN_NETNS=0).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if twin.CanUseNetNS() && !twin.InOwnNetNS() {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				code, err := twin.RunInNetNS(append([]string{exe}, os.Args[1:]...), os.Environ())
				if !errors.Is(err, twin.ErrNoNetNS) {
					if err != nil {
						return err
					}
					return exitCodeErr(code)
				}
				fmt.Fprintln(os.Stderr, "twin:", err, "- running on the host network, relying on the egress proxy")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return execWithTwin(ctx, f.options(), args)
		},
	}
	f.addFlags(cmd.Flags())
	return cmd
}

func exitCodeErr(code int) error {
	if code == 0 {
		return nil
	}
	return exitCode(code)
}

func execWithTwin(ctx context.Context, opts twin.Options, args []string) error {
	t, stopTwin, err := startTwin(ctx, opts)
	if err != nil {
		return err
	}
	defer stopTwin()
	c := exec.CommandContext(ctx, args[0], args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Env = append(os.Environ(), "KUBECONFIG="+t.Kubeconfig, "INFER_HPA_TWIN_KUBECONFIG="+t.Kubeconfig, "INFER_HPA_TWIN_CONTEXT="+t.Context,
		"INFER_HPA_TWIN_EGRESS_SOCKET="+t.EgressSocket)
	c.Env = append(c.Env, t.GoogleEnv()...)
	err = c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitCodeErr(exit.ExitCode())
	}
	return err
}
