package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// iamStep is the Google side of Workload Identity (pkg/gcp): setup grants,
// cleanup --iam revokes. Endpoints and credentials follow gcloud's
// environment (CLOUDSDK_API_ENDPOINT_OVERRIDES_*, Application Default
// Credentials).
type iamStep struct {
	cfg    identity.Config
	client *gcp.Client
	// note says where the workload identity pool came from.
	note string
}

// newIAMStep validates the settings and, with connect, builds the client
// and reads the cluster's workload identity pool from GKE (gke names the
// cluster); nil when the mode is none. It runs before any write, so missing
// credentials or a cluster without Workload Identity stop setup early.
// Without connect (dry runs, --print-gcloud) the pool is the documented
// CLUSTER_PROJECT.svc.id.goog.
func newIAMStep(ctx context.Context, mode identity.Mode, project, gsaName string, gke discover.GKE, connect bool) (*iamStep, error) {
	cfg := identity.Config{Mode: mode, ProjectID: project, GSAName: gsaName}.WithDefaults()
	if cfg.Mode == identity.ModeNone {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ClusterProject = gke.Project // differs from project only with --allow-project-mismatch
	if !connect {
		return &iamStep{cfg: cfg}, nil
	}
	client, err := gcp.NewClient(ctx, gcp.OptionsFromEnv(nil))
	if err != nil {
		return nil, err
	}
	s := &iamStep{cfg: cfg, client: client}
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

// printGcloud prints what the step would do, as gcloud commands, each
// after prefix ("would run: " for a dry run, "" for --print-gcloud, so the
// lines can be run as they are).
func (s *iamStep) printGcloud(out io.Writer, remove bool, prefix string) {
	cmds := gcp.GcloudCommands(s.cfg)
	if remove {
		cmds = gcp.GcloudRemoveCommands(s.cfg)
	}
	for _, c := range cmds {
		fmt.Fprintf(out, "%s%s\n", prefix, c)
	}
}

const printGcloudHelp = "Do not call Google Cloud IAM: print the equivalent gcloud commands, for users who may not let a tool change IAM"

// do carries the step out after the cluster side: as "would run:" lines in a
// dry run, as plain gcloud commands with --print-gcloud, else through the
// IAM API. what names the purpose for the --print-gcloud header.
func (s *iamStep) do(ctx context.Context, out, errOut io.Writer, remove, dryRun, printGcloud bool, what string) error {
	if s.note != "" {
		fmt.Fprintln(errOut, "Google Cloud IAM:", s.note)
	}
	switch {
	case dryRun:
		s.printGcloud(out, remove, "would run: ")
	case printGcloud:
		fmt.Fprintf(errOut, "Google Cloud IAM left alone (--print-gcloud): run these gcloud commands to %s\n", what)
		s.printGcloud(out, remove, "")
	default:
		return s.run(ctx, out, remove)
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
