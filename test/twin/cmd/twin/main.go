// Command twin starts and stops the local GKE twin (see docs/twin.md).
//
//	twin up   [--state-dir D] [--kubeconfig-out F] [flags]  start in the background, print the kubeconfig
//	twin env  [--state-dir D]                               print `export KUBECONFIG=...`
//	twin down [--state-dir D]                               stop it, leaving no process
//	twin run  [flags]                                       run in the foreground until interrupted
//	twin exec [flags] -- CMD ARGS...                        start, run CMD with KUBECONFIG set, stop
//	twin load [--service S] [--concurrency N] [--duration D] send OpenAI requests to a Service's pods
//
// `twin up --demo` adds the simulation, the local Google API server and the
// tutorial's vLLM Deployment and Service, and writes an env file.
//
// As root, `twin exec` runs the twin and CMD in a network namespace of
// their own with only `lo`.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "twin:", err)
		os.Exit(1)
	}
}

// exitCode carries the exit code of the command `twin exec` ran.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "twin",
		Short:         "A local twin of a GKE cluster with fake GPU nodes, all on loopback",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newUpCmd(), newDownCmd(), newEnvCmd(), newRunCmd(), newExecCmd(), newLoadCmd())
	return root
}
