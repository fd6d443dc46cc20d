package cmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Every "would run:" line goes to stderr (stdout may hold a dry run's
// objects); --print-gcloud's commands go to stdout, ready to run.
func TestIAMStepStreams(t *testing.T) {
	for _, c := range []struct {
		dryRun      apply.DryRunMode
		printGcloud bool
		change      iamChange
		stdout      string
		stderr      string
	}{
		{apply.DryRunServer, false, iamGrant, "", "would run: gcloud projects add-iam-policy-binding my-project"},
		{apply.DryRunClient, false, iamRevoke, "", "would run: gcloud projects remove-iam-policy-binding my-project"},
		{apply.DryRunNone, true, iamGrant, "gcloud projects add-iam-policy-binding my-project", "run these gcloud commands to grant the adapter roles/monitoring.viewer"},
	} {
		how := iamModeOf(c.dryRun, c.printGcloud)
		step, err := newIAMStep(context.Background(), identity.ModePrincipal, "my-project", "", discover.GKE{Project: "my-project"}, how)
		if err != nil || step == nil || step.client != nil {
			t.Fatalf("%v: step %v, %v (no client without iamCall)", how, step, err)
		}
		var out, errOut bytes.Buffer
		if err := step.do(context.Background(), genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}, c.change); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut.String(), c.stderr) || c.stdout == "" && out.Len() > 0 || !strings.Contains(out.String(), c.stdout) {
			t.Errorf("dry run %s, --print-gcloud %v: stdout %q, stderr %q; want stdout %q, stderr %q", c.dryRun, c.printGcloud, out.String(), errOut.String(), c.stdout, c.stderr)
		}
		if strings.Contains(out.String(), "would run") {
			t.Errorf("a would-run line on stdout: %q", out.String())
		}
	}
	if iamModeOf(apply.DryRunNone, false) != iamCall {
		t.Error("no dry run, no --print-gcloud: want IAM calls")
	}
}

// The summary counts every typed outcome, "not checked" included.
func TestSummaryCountsNotChecked(t *testing.T) {
	rep := &apply.Report{Results: []apply.Result{
		{Ref: "a", Outcome: apply.Created}, {Ref: "b", Outcome: apply.NotChecked}, {Ref: "c", Outcome: apply.NotChecked},
	}, Kept: []string{"d"}}
	if got, want := summary(rep), "1 created, 2 not checked, 1 kept (shared)"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
}
