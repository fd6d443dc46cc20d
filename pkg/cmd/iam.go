package cmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
)

// iamStep is the Google side of Workload Identity (pkg/gcp): setup grants,
// cleanup --iam revokes. Endpoints and credentials follow gcloud's
// environment (CLOUDSDK_API_ENDPOINT_OVERRIDES_*, Application Default
// Credentials).
type iamStep struct {
	cfg    gcp.Config
	client *gcp.Client
}

// newIAMStep validates the settings and, with connect, builds the client;
// nil when the mode is none. It runs before any write, so missing
// credentials stop setup early.
func newIAMStep(ctx context.Context, mode, project, gsaName string, connect bool) (*iamStep, error) {
	cfg := gcp.Config{Mode: gcp.Mode(mode), ProjectID: project, GSAName: gsaName}.WithDefaults()
	if cfg.Mode == gcp.ModeNone {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !connect {
		return &iamStep{cfg: cfg}, nil
	}
	client, err := gcp.NewClient(ctx, gcp.OptionsFromEnv(nil))
	if err != nil {
		return nil, err
	}
	return &iamStep{cfg: cfg, client: client}, nil
}

// iamFromParent reads the settings setup recorded on the inventory.
func iamFromParent(annotations map[string]string) (mode, project, gsaName string) {
	mode = annotations[plan.AnnotationWIMode]
	if mode == "" {
		mode = string(gcp.ModeNone)
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
	return err
}

// addProjectMismatchFlag binds --allow-project-mismatch (setup and diff).
func addProjectMismatchFlag(cmd *cobra.Command, f *planFlags) {
	cmd.Flags().BoolVar(&f.allowProjectMismatch, "allow-project-mismatch", false,
		"Accept a --project other than the cluster's (its nodes' providerID, else the kubeconfig context): the role is granted there, while the adapter reads Cloud Monitoring in the cluster's project")
}
