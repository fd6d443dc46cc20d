package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
)

// iamStep is the Google side of Workload Identity (pkg/gcp): setup grants,
// cleanup --iam revokes. Endpoints and credentials follow gcloud's
// environment (CLOUDSDK_API_ENDPOINT_OVERRIDES_*, Application Default
// Credentials).
type iamStep struct {
	cfg    identity.Config
	how    iamMode
	client *gcp.Client
	// note says where the workload identity pool came from.
	note string
}

// iamMode is how the step runs.
type iamMode int

const (
	// iamCall changes IAM through its API.
	iamCall iamMode = iota
	// iamDryRun prints what it would run, as "would run: gcloud ..." lines
	// on stderr (stdout may hold a dry run's objects).
	iamDryRun
	// iamPrintGcloud prints the gcloud commands on stdout, ready to run
	// (--print-gcloud), and calls nothing.
	iamPrintGcloud
)

// iamModeOf is the mode of a command's --dry-run and --print-gcloud.
func iamModeOf(dryRun apply.DryRunMode, printGcloud bool) iamMode {
	switch {
	case dryRun.On():
		return iamDryRun
	case printGcloud:
		return iamPrintGcloud
	}
	return iamCall
}

// iamChange is what the step changes, in words for --print-gcloud.
type iamChange string

const (
	iamGrant  iamChange = "grant the adapter roles/monitoring.viewer" // setup
	iamRevoke iamChange = "revoke what setup granted"                 // cleanup --iam
)

// newIAMStep validates the settings and, with iamCall, builds the client
// and reads the cluster's workload identity pool from GKE (gke names the
// cluster); nil when the mode is none. It runs before any write, so missing
// credentials or a cluster without Workload Identity stop setup early.
// Otherwise (dry runs, --print-gcloud) the pool is the documented
// CLUSTER_PROJECT.svc.id.goog.
func newIAMStep(ctx context.Context, mode identity.Mode, project, gsaName string, gke discover.GKE, how iamMode) (*iamStep, error) {
	cfg := identity.Config{Mode: mode, ProjectID: project, GSAName: gsaName}.WithDefaults()
	if cfg.Mode == identity.ModeNone {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ClusterProject = gke.Project // differs from project only with --allow-project-mismatch
	if how != iamCall {
		return &iamStep{cfg: cfg, how: how}, nil
	}
	client, err := gcp.NewClient(ctx, gcp.OptionsFromEnv(nil))
	if err != nil {
		return nil, err
	}
	s := &iamStep{cfg: cfg, how: how, client: client}
	return s, s.readPool(ctx, gke)
}

// readPool reads the cluster's workload identity pool from GKE
// (clusters.get); it assumes the documented PROJECT.svc.id.goog, and says
// so, only when the cluster's name is unknown or the read is forbidden.
func (s *iamStep) readPool(ctx context.Context, gke discover.GKE) error {
	assumed := s.cfg.WorkloadPool()
	if gke.Project == "" || gke.Location == "" || gke.Cluster == "" {
		s.note = fmt.Sprintf("assuming the workload identity pool %s: the GKE cluster's name and location are unknown (they come from a kubeconfig context named gke_PROJECT_LOCATION_CLUSTER, as gcloud names it)", assumed)
		return nil
	}
	cl := gcp.Cluster{Project: gke.Project, Location: gke.Location, Name: gke.Cluster}
	pool, err := s.client.WorkloadPool(ctx, cl)
	var ge *gcp.Error
	switch {
	case errors.As(err, &ge) && ge.Kind == gcp.KindPermissionDenied:
		s.note = fmt.Sprintf("assuming the workload identity pool %s: not allowed to read cluster %s (%s, granted by %s)", assumed, cl.Resource(), ge.Permission, ge.Role)
		return nil
	case err != nil:
		return err
	}
	s.cfg.Pool = pool
	s.note = fmt.Sprintf("workload identity pool %s (read from cluster %s)", pool, cl.Resource())
	return nil
}

// iamFromParent reads the settings setup recorded on the inventory.
func iamFromParent(annotations map[string]string) (mode identity.Mode, project, gsaName string) {
	mode = identity.Mode(annotations[plan.AnnotationWIMode])
	if mode == "" {
		mode = identity.ModeNone
	}
	return mode, annotations[plan.AnnotationProject], annotations[plan.AnnotationGSAName]
}

// printGcloud prints the change as gcloud commands, each after prefix
// ("would run: " for a dry run, "" for --print-gcloud, so the lines can be
// run as they are).
func (s *iamStep) printGcloud(out io.Writer, change iamChange, prefix string) {
	cmds := gcp.GcloudCommands(s.cfg)
	if change == iamRevoke {
		cmds = gcp.GcloudRemoveCommands(s.cfg)
	}
	for _, c := range cmds {
		fmt.Fprintf(out, "%s%s\n", prefix, c)
	}
}

const printGcloudHelp = "Do not call Google Cloud IAM: print the equivalent gcloud commands, for users who may not let a tool change IAM"

// do carries the change out after the cluster side, the way the step's
// mode says: "would run:" lines, plain gcloud commands, or IAM API calls.
func (s *iamStep) do(ctx context.Context, streams genericiooptions.IOStreams, change iamChange) error {
	if s.note != "" {
		fmt.Fprintln(streams.ErrOut, "Google Cloud IAM:", s.note)
	}
	switch s.how {
	case iamDryRun:
		s.printGcloud(streams.ErrOut, change, "would run: ")
	case iamPrintGcloud:
		fmt.Fprintf(streams.ErrOut, "Google Cloud IAM left alone (--print-gcloud): run these gcloud commands to %s\n", change)
		s.printGcloud(streams.Out, change, "")
	default:
		return s.run(ctx, streams.Out, change == iamRevoke)
	}
	return nil
}

// run grants (or, with remove, revokes) and prints one line per step.
func (s *iamStep) run(ctx context.Context, out io.Writer, remove bool) error {
	do := s.client.Ensure
	if remove {
		do = s.client.Remove
	}
	rep, err := do(ctx, s.cfg)
	if perr := rep.Print(out); perr != nil && err == nil {
		err = perr
	}
	if err == nil && !remove && rep.GSAEmail != "" && rep.GSAEmail != s.cfg.GSAEmail() {
		// The KSA annotation was rendered from the built e-mail.
		return fmt.Errorf("IAM names the service account %s, not %s as the adapter's KSA is annotated: annotate it with `kubectl annotate serviceaccount -n %s %s %s=%s --overwrite` and report this", rep.GSAEmail, s.cfg.GSAEmail(), s.cfg.Namespace, s.cfg.KSA, identity.KSAAnnotation, rep.GSAEmail)
	}
	return err
}

// addProjectMismatchFlag binds --allow-project-mismatch (setup and diff).
func addProjectMismatchFlag(cmd *cobra.Command, f *planFlags) {
	cmd.Flags().BoolVar(&f.allowProjectMismatch, "allow-project-mismatch", false,
		"Accept a --project other than the cluster's (its nodes' providerID, else the kubeconfig context): the role is granted there, while the adapter reads Cloud Monitoring in the cluster's project")
}
