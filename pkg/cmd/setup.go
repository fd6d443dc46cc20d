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
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/printers"
)

// SetupOptions holds the state of `setup`.
type SetupOptions struct {
	planFlags

	DryRun      string
	Output      string
	Timeout     time.Duration
	SkipIAM     bool
	PrintGcloud bool

	dryRun       apply.DryRunMode
	timeoutGiven bool
	genericiooptions.IOStreams
}

// NewCmdSetup returns the `setup` command.
func NewCmdSetup(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	o := &SetupOptions{planFlags: newPlanFlags(cf), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "setup [DEPLOYMENT] [flags]",
		Short: "Apply the whole chain to the cluster, check first, wait until it works",
		Long: `Find the vLLM Deployment (by name, or the only one in the namespace), infer its
pod labels, metrics port and the GKE project, check everything setup needs
(Managed Prometheus, free metrics APIServices, your permissions, Workload
Identity) and only then apply, in order: namespace and RBAC, the adapter (and
wait until it is ready), the APIServices (and wait until they are Available),
the PodMonitoring and GPU rules, the HPA.

Setup records what it applied in an ApplySet (configmap/infer-hpa-HPA in the
namespace): a rerun with the same flags changes nothing; with other flags it
applies the difference and removes what is no longer needed. Objects it did
not create are never changed without --force-conflicts, and never deleted.`,
		Example: `  # The tutorial's Deployment: everything else is inferred
  kubectl infer-hpa setup vllm-gemma-deployment -n default --metric running=4 --behavior tutorial

  # What would be applied, exactly
  kubectl infer-hpa setup -n default --dry-run=client -o yaml

  # Let the apiserver validate everything without persisting it
  kubectl infer-hpa setup -n default --dry-run=server`,
		Args: cobra.MaximumNArgs(1),
		RunE: runVerb(o, 0),
	}
	o.addPlanFlags(cmd)
	addProjectMismatchFlag(cmd, &o.planFlags)
	addApplyFlags(cmd, &o.DryRun, &o.Timeout)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "With --dry-run=client: print the objects as yaml or json")
	cmd.Flags().BoolVar(&o.SkipIAM, "skip-iam", false, "Leave Google Cloud IAM alone (grant the adapter roles/monitoring.viewer yourself)")
	cmd.Flags().BoolVar(&o.PrintGcloud, "print-gcloud", false, printGcloudHelp)
	return cmd
}

func addApplyFlags(cmd *cobra.Command, dryRun *string, timeout *time.Duration) {
	cmd.Flags().StringVar(dryRun, "dry-run", "none", "none, client (print what would be applied, no request that writes) or server (the apiserver validates, nothing persists)")
	cmd.Flags().DurationVar(timeout, "timeout", 5*time.Minute, "How long each wait (adapter ready, APIServices Available) may take")
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

// Complete reads the flags and the optional DEPLOYMENT argument.
func (o *SetupOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.planFlags.complete(cmd, args); err != nil {
		return err
	}
	o.timeoutGiven = cmd.Flags().Changed("timeout")
	var err error
	o.dryRun, err = apply.ParseDryRun(o.DryRun)
	return err
}

// Validate checks the flags before the cluster is contacted.
func (o *SetupOptions) Validate() error {
	if o.Output != "" && o.Output != "yaml" && o.Output != "json" {
		return fmt.Errorf("--output %q is not supported: use yaml or json", o.Output)
	}
	if o.Output != "" && o.dryRun != apply.DryRunClient {
		return errors.New("--output prints the objects of --dry-run=client: add --dry-run=client")
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %s: give a positive duration such as 5m", o.Timeout)
	}
	if o.PrintGcloud && o.SkipIAM {
		return fmt.Errorf("--print-gcloud and --skip-iam contradict each other: give one of them")
	}
	return o.planFlags.validate()
}

// Run plans, checks, applies and reports.
func (o *SetupOptions) Run(ctx context.Context) error {
	s, err := cluster.Connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	p, checks, err := o.plan(ctx, s)
	if err != nil {
		return err
	}
	for _, n := range p.Notes {
		fmt.Fprintln(o.ErrOut, "discovered:", n)
	}
	checks.Print(o.ErrOut)
	if err := checks.Err(); err != nil {
		return err
	}
	checks.RenameMetrics(p.Objects)
	var iam *iamStep
	if !o.SkipIAM {
		if iam, err = newIAMStep(ctx, p.Options.WIMode, p.Options.Project, p.Options.GSAName, p.GKE, iamModeOf(o.dryRun, o.PrintGcloud)); err != nil {
			return fmt.Errorf("Google Cloud IAM (--wi-mode %s): %w; or pass --skip-iam and grant roles/monitoring.viewer yourself", p.Options.WIMode, err)
		}
	}
	if o.dryRun == apply.DryRunClient {
		if iam != nil {
			iam.printGcloud(o.ErrOut, iamGrant, "would run: ")
		}
		return printers.Objects(o.Out, o.Output, p.WithParent())
	}
	// The Google side comes first: the real adapter exits at start-up
	// without roles/monitoring.viewer, so granting after waiting for it
	// would never be reached.
	granted := false
	switch {
	case iam == nil && o.SkipIAM && p.Options.WIMode != identity.ModeNone:
		fmt.Fprintf(o.ErrOut, "note: --skip-iam: grant the adapter roles/monitoring.viewer yourself (--wi-mode %s)\n", p.Options.WIMode)
	case iam != nil:
		if err := iam.do(ctx, o.IOStreams, iamGrant); err != nil {
			return fmt.Errorf("setup stopped at Google Cloud IAM: %w\nnothing was applied to the cluster: fix the above and rerun setup", err)
		}
		granted = iam.how == iamCall
	}
	progress := apply.NewProgress(o.Out)
	w := &adapterWait{kube: s.Env.Kube, deferIAM: !granted && p.Options.WIMode != identity.ModeNone, grant: o.grantHint(p)}
	a := &apply.Applier{Clients: s.Env.Clients, Force: o.Force, DryRun: o.dryRun, Timeout: o.Timeout, Progress: progress,
		Explain: w.explain, Adopted: apply.Adopted(p.Options.Namespace, o.Adopt)}
	if granted && !o.timeoutGiven {
		a.ReadyTimeout = FreshGrantTimeout
	}
	rep, err := a.Apply(ctx, apply.NewOwnership(s.Env.Clients, p.Set, progress), p.Objects)
	var deferred *apply.Deferred
	if errors.As(err, &deferred) {
		fmt.Fprintf(o.Out, "setup applied: %s; inventory %s\n", summary(rep), p.Set)
		fmt.Fprintf(o.Out, "one step remains: %s\n", deferred.Reason)
		return nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "timed out after") { // a wait failed: doctor says which link is broken
			return fmt.Errorf("setup stopped: %w%s\n%s\nto see which link of the chain is broken: kubectl infer-hpa doctor %s -n %s", err, w.advice(), doneSoFar(rep), p.Target.Deployment.Name, p.Target.Deployment.Namespace)
		}
		return fmt.Errorf("setup stopped: %w%s\n%s", err, w.advice(), doneSoFar(rep))
	}
	fmt.Fprintf(o.Out, "setup %s: %s; inventory %s\n", doneWord(o.dryRun), summary(rep), p.Set)
	return nil
}

// FreshGrantTimeout is how long setup waits for the adapter after it
// granted the role itself (unless --timeout is given): IAM takes a minute
// or more to reach the adapter, and the pod's CrashLoopBackOff waits up to
// 5 minutes between restarts.
const FreshGrantTimeout = 10 * time.Minute

// grantHint is the exact grant the adapter needs, as gcloud commands.
func (o *SetupOptions) grantHint(p *plan.Plan) string {
	step, err := newIAMStep(context.Background(), p.Options.WIMode, p.Options.Project, p.Options.GSAName, p.GKE, iamPrintGcloud)
	if err != nil || step == nil {
		return fmt.Sprintf("grant roles/monitoring.viewer in the cluster's project to the adapter's Kubernetes service account %s/%s (--wi-mode %s)", identity.DefaultNamespace, identity.DefaultKSA, p.Options.WIMode)
	}
	var b strings.Builder
	step.printGcloud(&b, iamGrant, "  ")
	return "grant the adapter roles/monitoring.viewer (or rerun setup without --skip-iam/--print-gcloud):\n" + strings.TrimRight(b.String(), "\n")
}

func doneWord(m apply.DryRunMode) string {
	if m == apply.DryRunServer {
		return "checked by a server dry run, nothing persisted"
	}
	return "complete"
}

// summary counts outcomes: "3 created, 11 unchanged".
func summary(rep *apply.Report) string {
	n := rep.Count()
	var parts []string
	for _, out := range []apply.Outcome{apply.Created, apply.Configured, apply.Unchanged, apply.NotChecked, apply.Pruned, apply.Deleted} {
		if n[out] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[out], out))
		}
	}
	if len(rep.Kept) > 0 {
		parts = append(parts, fmt.Sprintf("%d kept (shared)", len(rep.Kept)))
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}

// doneSoFar says exactly what was applied before a failure.
func doneSoFar(rep *apply.Report) string {
	if rep == nil || len(rep.Count()) == 0 {
		return "nothing was changed"
	}
	return "done before the failure: " + summary(rep) + "; rerun setup after fixing it, or run cleanup to remove it"
}
