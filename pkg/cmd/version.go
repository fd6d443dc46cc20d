package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/printers"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/version"
)

// VersionOptions holds the flags of `version`.
type VersionOptions struct {
	Output string
	genericiooptions.IOStreams
}

// NewCmdVersion returns the `version` command.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version, commit and build date",
		Example: `  kubectl infer-hpa version
  kubectl infer-hpa version -o json`,
		Args: cobra.NoArgs,
		RunE: runVerb(o, 0),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: empty for one line, or json|yaml")
	return cmd
}

// Complete has nothing to read: version takes no arguments.
func (o *VersionOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q is not supported: use json or yaml, or leave it empty", o.Output)
}

// Run prints the version.
func (o *VersionOptions) Run(context.Context) error {
	info := version.Get()
	if o.Output == "" {
		_, err := fmt.Fprintf(o.Out, "kubectl-infer_hpa %s (commit %s, built %s)\n", info.Version, info.Commit, info.Date)
		return err
	}
	return printers.Print(o.Out, o.Output, info)
}
