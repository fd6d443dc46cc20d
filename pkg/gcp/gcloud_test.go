package gcp_test

import (
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

func TestGcloudCommands(t *testing.T) {
	gsa := gcp.GcloudCommands(identity.Config{Mode: identity.ModeGSA, ProjectID: "my-project"})
	want := []string{
		"gcloud iam service-accounts create metrics-adapter-gsa '--display-name=Custom metrics Stackdriver adapter' '--description=Reads Cloud Monitoring for the custom-metrics Stackdriver adapter. [managed-by=kubectl-infer-hpa]' --project=my-project",
		"gcloud iam service-accounts add-iam-policy-binding metrics-adapter-gsa@my-project.iam.gserviceaccount.com --role=roles/iam.workloadIdentityUser '--member=serviceAccount:my-project.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]' --condition=None --project=my-project",
		"gcloud projects add-iam-policy-binding my-project --role=roles/monitoring.viewer --member=serviceAccount:metrics-adapter-gsa@my-project.iam.gserviceaccount.com --condition=None --project=my-project",
	}
	if strings.Join(gsa, "\n") != strings.Join(want, "\n") {
		t.Errorf("gsa commands:\n%s\nwant:\n%s", strings.Join(gsa, "\n"), strings.Join(want, "\n"))
	}
	p := gcp.GcloudCommands(identity.Config{Mode: identity.ModePrincipal, ProjectID: "my-project"})
	if len(p) != 2 || !strings.HasPrefix(p[0], "PROJECT_NUMBER=$(gcloud projects describe my-project") ||
		!strings.Contains(p[1], `"--member=principal://iam.googleapis.com/projects/${PROJECT_NUMBER}/locations/global/`) {
		t.Errorf("principal commands without a number:\n%s", strings.Join(p, "\n"))
	}
	p = gcp.GcloudCommands(identity.Config{Mode: identity.ModePrincipal, ProjectID: "my-project", ProjectNumber: 42})
	if len(p) != 1 || !strings.Contains(p[0], "--member=principal://iam.googleapis.com/projects/42/") {
		t.Errorf("principal commands with a number:\n%s", strings.Join(p, "\n"))
	}
	if rm := gcp.GcloudRemoveCommands(identity.Config{Mode: identity.ModeGSA, ProjectID: "my-project"}); len(rm) != 2 || !strings.Contains(rm[0], "projects remove-iam-policy-binding") {
		t.Errorf("remove commands: %v", rm)
	}
	if gcp.GcloudCommands(identity.Config{Mode: identity.ModeNone}) != nil {
		t.Error("mode none prints commands")
	}
}
