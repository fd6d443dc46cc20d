package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
)

// CleanupOptions holds the state of `cleanup`.
type CleanupOptions struct {
	configFlags *genericclioptions.ConfigFlags

	HPAName string
	DryRun  string
	Timeout time.Duration
	IAM     bool
	// PrintGcloud prints the gcloud commands that revoke the grants.
	PrintGcloud bool

	namespace string
	dryRun    apply.DryRunMode
	genericiooptions.IOStreams
}

// NewCmdCleanup returns the `cleanup` command.
func NewCmdCleanup(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	o := &CleanupOptions{configFlags: cf, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "cleanup [HPA] [flags]",
		Short: "Delete everything setup applied, in reverse order",
		Long: `Delete every object of setup's inventory (configmap/infer-hpa-HPA) in reverse
apply order, wait until each is gone, then delete the inventory. Objects setup
did not create are never deleted. The shared adapter, its RBAC and the
APIServices are kept while another infer-hpa inventory exists in the cluster.
Running it again finds nothing and succeeds.

HPA is the HPA's name (by default the Deployment's name); without it, the only
inventory in the namespace is used.`,
		Example: `  # What would be deleted
  kubectl infer-hpa cleanup -n default --dry-run

  # Delete it
  kubectl infer-hpa cleanup vllm-gemma-deployment -n default`,
		Args: cobra.MaximumNArgs(1),
		RunE: runVerb(o, 0),
	}
	cmd.Flags().StringVar(&o.HPAName, "hpa-name", "", "The HPA whose chain to delete (default: the only inventory in the namespace)")
	cmd.Flags().StringVar(&o.DryRun, "dry-run", "none", "none, client (list what would be deleted) or server (the apiserver checks the deletes, nothing persists)")
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "How long to wait for the objects to be gone")
	cmd.Flags().BoolVar(&o.PrintGcloud, "print-gcloud", false, printGcloudHelp+" (with --iam)")
	cmd.Flags().BoolVar(&o.IAM, "iam", false, "Also revoke the Workload Identity grants setup made in Google Cloud IAM (give it with the cleanup that deletes the inventory: the settings are read from it)")
	return cmd
}

// Complete reads the flags and the optional HPA argument.
func (o *CleanupOptions) Complete(_ *cobra.Command, args []string) error {
	o.namespace = namespaceOf(o.configFlags)
	if len(args) == 1 {
		if o.HPAName != "" && o.HPAName != args[0] {
			return fmt.Errorf("the HPA argument %q and --hpa-name %q differ: give one", args[0], o.HPAName)
		}
		o.HPAName = args[0]
	}
	var err error
	o.dryRun, err = apply.ParseDryRun(o.DryRun)
	return err
}

// Validate checks the flags.
func (o *CleanupOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %s: give a positive duration such as 5m", o.Timeout)
	}
	if o.PrintGcloud && !o.IAM {
		return fmt.Errorf("--print-gcloud prints the commands that revoke the IAM grants: add --iam")
	}
	return nil
}

// Run finds the inventory and deletes it.
func (o *CleanupOptions) Run(ctx context.Context) error {
	s, err := cluster.Connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	set, found, err := o.findSet(ctx, s)
	if err != nil || !found {
		return err
	}
	iam, err := o.iamStep(ctx, s, set)
	if err != nil {
		return err
	}
	progress := apply.NewProgress(o.Out)
	a := &apply.Applier{Clients: s.Env.Clients, DryRun: o.dryRun, Timeout: o.Timeout, Progress: progress}
	rep, err := a.Delete(ctx, apply.NewOwnership(s.Env.Clients, set, progress))
	if errors.Is(err, apply.ErrNoInventory) {
		fmt.Fprintf(o.Out, "nothing to clean up: %s does not exist\n", set)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleanup stopped: %w\n%s", err, doneSoFar(rep))
	}
	for _, k := range rep.Kept {
		fmt.Fprintf(o.Out, "%s kept (shared)\n", k)
	}
	if iam != nil {
		if err := iam.do(ctx, o.IOStreams, iamRevoke); err != nil {
			return fmt.Errorf("cleanup stopped at Google Cloud IAM: %w\nthe cluster side is gone (%s): fix the above and rerun cleanup --iam with the same flags", err, summary(rep))
		}
	}
	if o.dryRun.On() {
		fmt.Fprintf(o.Out, "cleanup (%s dry run): would delete %d objects\n", o.dryRun, rep.Count()[apply.Deleted])
		return nil
	}
	fmt.Fprintf(o.Out, "cleanup complete: %s\n", summary(rep))
	return nil
}

// iamStep reads the Workload Identity settings setup recorded on the
// inventory, when --iam asks for their removal; nil otherwise.
func (o *CleanupOptions) iamStep(ctx context.Context, s *cluster.Session, set apply.ApplySet) (*iamStep, error) {
	if !o.IAM {
		return nil, nil
	}
	parent, err := s.Env.ReadParent(ctx, set)
	if err != nil || parent == nil {
		return nil, err // no inventory: Delete says so
	}
	mode, project, gsa := iamFromParent(parent.GetAnnotations())
	step, err := newIAMStep(ctx, mode, project, gsa, discover.DetectGKE(ctx, s.Env.Kube, s.Context), iamModeOf(o.dryRun, o.PrintGcloud))
	if err != nil {
		return nil, fmt.Errorf("--iam (recorded --wi-mode %s, --project %q): %w", mode, project, err)
	}
	if step == nil {
		fmt.Fprintln(o.ErrOut, "note: --iam: setup ran with --wi-mode none: there is nothing to revoke in Google Cloud IAM")
	}
	return step, nil
}

// findSet is the named inventory, or the only one in the namespace.
func (o *CleanupOptions) findSet(ctx context.Context, s *cluster.Session) (apply.ApplySet, bool, error) {
	if o.HPAName != "" {
		return apply.ForHPA(o.namespace, o.HPAName), true, nil
	}
	names, err := s.Env.InventoryNames(ctx, o.namespace)
	if err != nil {
		return apply.ApplySet{}, false, err
	}
	switch len(names) {
	case 0:
		fmt.Fprintf(o.Out, "nothing to clean up: no infer-hpa inventory in namespace %s\n", o.namespace)
		return apply.ApplySet{}, false, nil
	case 1:
		return apply.ForHPA(o.namespace, names[0]), true, nil
	}
	return apply.ApplySet{}, false, fmt.Errorf("%d infer-hpa setups in namespace %q (%s): name one, e.g. cleanup %s", len(names), o.namespace, strings.Join(names, ", "), names[0])
}
