package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/preflight"
)

// planFlags are what setup and diff share: the cluster and manifest flags,
// read into library options that the planner completes (what the user did
// not give is empty, and inferred from the cluster).
type planFlags struct {
	configFlags *genericclioptions.ConfigFlags
	manifest    *ManifestFlags

	// Force is --force-conflicts; Adopt is --adopt-podmonitoring.
	Force bool
	Adopt string

	library kustomize.Options
	// allowProjectMismatch is --allow-project-mismatch (addProjectMismatchFlag binds it).
	allowProjectMismatch bool
}

// addPlanFlags binds the flags that change what setup plans besides the
// manifest flags: diff takes them too, so that it plans as setup does.
func (f *planFlags) addPlanFlags(cmd *cobra.Command) {
	f.manifest.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&f.Force, "force-conflicts", false, "Take fields owned by other field managers, and apply over objects and APIServices that are not ours")
	cmd.Flags().StringVar(&f.Adopt, "adopt-podmonitoring", "", "Take over the PodMonitoring of this name that already scrapes the vLLM pods (e.g. the tutorial's): setup manages it from then on, and cleanup deletes it")
}

func newPlanFlags(cf *genericclioptions.ConfigFlags) planFlags {
	return planFlags{configFlags: cf, manifest: NewManifestFlags()}
}

// complete reads the flags and the optional DEPLOYMENT argument.
func (f *planFlags) complete(cmd *cobra.Command, args []string) error {
	lib, err := f.manifest.ToOptions(namespaceOf(f.configFlags))
	if err != nil {
		return err
	}
	if lib.Deployment, err = deploymentArg(lib.Deployment, args); err != nil {
		return err
	}
	if f.Adopt != "" {
		if cmd.Flags().Changed("podmonitoring-name") && lib.PodMonitoringName != f.Adopt {
			return fmt.Errorf("--adopt-podmonitoring %q and --podmonitoring-name %q differ: give one (adopting names our PodMonitoring after the one adopted)", f.Adopt, lib.PodMonitoringName)
		}
		lib.PodMonitoringName = f.Adopt
	}
	f.library = lib
	return nil
}

// deploymentArg is the Deployment of the optional DEPLOYMENT argument and
// --deployment (flag), which must agree when both are given.
func deploymentArg(flag string, args []string) (string, error) {
	if len(args) == 0 {
		return flag, nil
	}
	if flag != "" && flag != args[0] {
		return "", fmt.Errorf("the DEPLOYMENT argument %q and --deployment %q differ: give one", args[0], flag)
	}
	return args[0], nil
}

// validate checks every manifest flag given before the cluster is
// contacted; what is not given is inferred by the planner.
func (f *planFlags) validate() error {
	return f.library.ValidateGiven()
}

func (f *planFlags) input(s *cluster.Session) plan.Input {
	return plan.Input{Options: f.library, Context: s.Context, Force: f.Force, Adopt: f.Adopt, AllowProjectMismatch: f.allowProjectMismatch}
}

// plan is what setup and diff both do before they differ: plan.Make.
func (f *planFlags) plan(ctx context.Context, s *cluster.Session) (*plan.Plan, *preflight.Result, error) {
	return plan.Make(ctx, s.Env, f.input(s))
}
