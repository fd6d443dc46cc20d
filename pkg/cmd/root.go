// Package cmd holds the cobra commands of kubectl infer-hpa, one verb per
// file. Each verb follows kubectl's XOptions / Complete / Validate / Run shape.
package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// ExitError carries a specific exit code (for example diff's 1 for "there are
// differences") through cobra's RunE.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// verb is kubectl's shape, which every command's options have.
type verb interface {
	// Complete reads the flags and arguments into the options.
	Complete(cmd *cobra.Command, args []string) error
	// Validate checks them before anything is contacted.
	Validate() error
	// Run does the work.
	Run(ctx context.Context) error
}

// runVerb is every command's RunE: Complete, Validate, then Run. A non-zero
// badInput is the exit status of a Complete or Validate error (diff and
// doctor use 2, as kubectl diff does).
func runVerb(o verb, badInput int) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := o.Complete(cmd, args)
		if err == nil {
			err = o.Validate()
		}
		if err != nil && badInput != 0 {
			return &ExitError{Code: badInput, Err: err}
		}
		if err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// NewRootCmd builds the root command with every verb attached.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	return NewRootCmdWithFlags(streams, genericclioptions.NewConfigFlags(true))
}

// NewRootCmdWithFlags is NewRootCmd with the cluster flags given (tests
// wrap the REST config through flags.WrapConfigFn).
func NewRootCmdWithFlags(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-infer_hpa",
		Short: "Autoscale a vLLM inference server on GKE on the metrics that matter",
		Long: `kubectl infer-hpa wires a vLLM Deployment on GKE to a HorizontalPodAutoscaler
driven by inference metrics: Managed Prometheus scraping of vLLM and DCGM GPU
metrics, the custom-metrics Stackdriver adapter with Workload Identity, and
the HPA itself.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl infer-hpa",
		},
	}
	flags.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: see '%s --help'", err, c.CommandPath())
	})
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	root.AddCommand(
		NewCmdVersion(streams),
		NewCmdRender(streams, flags),
		NewCmdSetup(streams, flags),
		NewCmdDiff(streams, flags),
		NewCmdCleanup(streams, flags),
		NewCmdWatch(streams, flags),
		NewCmdDoctor(streams, flags),
		NewCmdLoad(streams, flags),
		NewCmdTune(streams, flags),
	)
	setupCompletion(root)
	setupNameCompletion(root, flags)
	return root
}

// Execute runs the root command and turns its error into an exit code.
func Execute(streams genericiooptions.IOStreams, args []string) int {
	return ExecuteCmd(NewRootCmd(streams), streams, args)
}

// ExecuteCmd runs a root command built by NewRootCmdWithFlags.
func ExecuteCmd(root *cobra.Command, streams genericiooptions.IOStreams, args []string) int {
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		if exitErr.Err != nil {
			fmt.Fprintln(streams.ErrOut, "error:", exitErr.Err)
		}
		return exitErr.Code
	}
	fmt.Fprintln(streams.ErrOut, "error:", err)
	return 1
}
