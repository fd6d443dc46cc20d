package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
)

// DiffOptions holds the state of `diff`.
type DiffOptions struct {
	planFlags
	genericiooptions.IOStreams
}

// NewCmdDiff returns the `diff` command.
func NewCmdDiff(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	o := &DiffOptions{planFlags: newPlanFlags(cf), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "diff [DEPLOYMENT] [flags]",
		Short: "Show what setup would change, as a unified diff against the live objects",
		Long: `Plan exactly as setup does, ask the apiserver what every changed object would
become (a server-side dry run: nothing persists), and print a unified diff
against the live objects; objects setup would prune are shown as deleted.
diff runs setup's preflight checks on the same plan: when one fails, it
prints them and exits 2, as setup would stop there.

Exit status: 0 when setup would change nothing, 1 when it would, >1 on error
(as kubectl diff).`,
		Example: `  kubectl infer-hpa diff vllm-gemma-deployment -n default --metric running=4 --metric waiting=10`,
		Args:    cobra.MaximumNArgs(1),
		RunE:    runVerb(o, 2),
	}
	o.addPlanFlags(cmd)
	addProjectMismatchFlag(cmd, &o.planFlags)
	return cmd
}

// Complete reads the flags and the optional DEPLOYMENT argument.
func (o *DiffOptions) Complete(cmd *cobra.Command, args []string) error {
	return o.complete(cmd, args)
}

// Validate checks the flags before the cluster is contacted.
func (o *DiffOptions) Validate() error { return o.validate() }

// Run prints the diff and sets the exit status.
func (o *DiffOptions) Run(ctx context.Context) error {
	diffs, err := o.diff(ctx)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	for _, d := range diffs {
		fmt.Fprint(o.Out, d.Unified)
	}
	if len(diffs) > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

func (o *DiffOptions) diff(ctx context.Context) ([]apply.ObjectDiff, error) {
	s, err := cluster.Connect(ctx, o.configFlags)
	if err != nil {
		return nil, err
	}
	p, checks, err := o.plan(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := checks.Err(); err != nil {
		checks.Print(o.ErrOut)
		return nil, fmt.Errorf("setup would stop here: %w", err)
	}
	a := &apply.Applier{Clients: s.Env.Clients, Force: o.Force}
	return a.Diff(ctx, apply.NewOwnership(s.Env.Clients, p.Set, nil), p.Objects)
}
