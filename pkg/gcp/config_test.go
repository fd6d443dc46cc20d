package gcp_test

import (
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
)

func TestValidateProjectID(t *testing.T) {
	for id, want := range map[string]string{
		"my-project":                         "",
		"example.com:my-project":             "",
		"abcdef":                             "",
		"abcde":                              "6 to 30",
		"my-project-":                        "6 to 30",
		"My-Project":                         "6 to 30",
		"1project":                           "6 to 30",
		"a-very-long-project-id-over-thirty": "6 to 30",
		"123456789012":                       "looks like a project number",
		"bad_domain:my-project":              "domain",
		"my-google-project":                  "cannot contain",
	} {
		err := gcp.ValidateProjectID(id)
		if (want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--project"))) {
			t.Errorf("ValidateProjectID(%q) = %v, want %q", id, err, want)
		}
	}
}

func TestValidateGSAName(t *testing.T) {
	for name, ok := range map[string]bool{
		"metrics-adapter-gsa": true, "abcdef": true, "a12345": true,
		"abcde": false, "metrics-adapter-": false, "1metrics": false, "Metrics-adapter": false,
		"metrics_adapter": false, strings.Repeat("a", 31): false, strings.Repeat("a", 30): true,
	} {
		err := gcp.ValidateGSAName(name)
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "--gsa-name")) {
			t.Errorf("ValidateGSAName(%q) = %v", name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  gcp.Config
		want string
	}{
		{gcp.Config{}, "--project is required"},
		{gcp.Config{Mode: gcp.ModeNone}, ""},
		{gcp.Config{Mode: "workload", ProjectID: "my-project"}, "--wi-mode \"workload\""},
		{gcp.Config{Mode: gcp.ModeGSA, ProjectID: "my-project", GSAName: "x"}, "--gsa-name"},
		{gcp.Config{Mode: gcp.ModePrincipal, ProjectID: "my-project", Namespace: "Bad_NS"}, "namespace"},
		{gcp.Config{Mode: gcp.ModePrincipal, ProjectID: "my-project", ProjectNumber: -1}, "project number"},
		{gcp.Config{Mode: gcp.ModeGSA, ProjectID: "my-project"}, ""},
	} {
		err := tc.cfg.WithDefaults().Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMembers(t *testing.T) {
	c := gcp.Config{Mode: gcp.ModePrincipal, ProjectID: "my-project", ProjectNumber: 123456789012}.WithDefaults()
	if got, want := c.PrincipalMember(), "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/my-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"; got != want {
		t.Errorf("principal member\n got %s\nwant %s", got, want)
	}
	if got, want := c.KSAMember(), "serviceAccount:my-project.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"; got != want {
		t.Errorf("KSA member %s", got)
	}
}

func TestGcloudCommands(t *testing.T) {
	gsa := gcp.GcloudCommands(gcp.Config{Mode: gcp.ModeGSA, ProjectID: "my-project"})
	want := []string{
		"gcloud iam service-accounts create metrics-adapter-gsa '--display-name=Custom metrics Stackdriver adapter' '--description=Reads Cloud Monitoring for the custom-metrics Stackdriver adapter. [managed-by=kubectl-infer-hpa]' --project=my-project",
		"gcloud iam service-accounts add-iam-policy-binding metrics-adapter-gsa@my-project.iam.gserviceaccount.com --role=roles/iam.workloadIdentityUser '--member=serviceAccount:my-project.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]' --condition=None --project=my-project",
		"gcloud projects add-iam-policy-binding my-project --role=roles/monitoring.viewer --member=serviceAccount:metrics-adapter-gsa@my-project.iam.gserviceaccount.com --condition=None --project=my-project",
	}
	if strings.Join(gsa, "\n") != strings.Join(want, "\n") {
		t.Errorf("gsa commands:\n%s\nwant:\n%s", strings.Join(gsa, "\n"), strings.Join(want, "\n"))
	}
	p := gcp.GcloudCommands(gcp.Config{Mode: gcp.ModePrincipal, ProjectID: "my-project"})
	if len(p) != 2 || !strings.HasPrefix(p[0], "PROJECT_NUMBER=$(gcloud projects describe my-project") ||
		!strings.Contains(p[1], `"--member=principal://iam.googleapis.com/projects/${PROJECT_NUMBER}/locations/global/`) {
		t.Errorf("principal commands without a number:\n%s", strings.Join(p, "\n"))
	}
	p = gcp.GcloudCommands(gcp.Config{Mode: gcp.ModePrincipal, ProjectID: "my-project", ProjectNumber: 42})
	if len(p) != 1 || !strings.Contains(p[0], "--member=principal://iam.googleapis.com/projects/42/") {
		t.Errorf("principal commands with a number:\n%s", strings.Join(p, "\n"))
	}
	if rm := gcp.GcloudRemoveCommands(gcp.Config{Mode: gcp.ModeGSA, ProjectID: "my-project"}); len(rm) != 2 || !strings.Contains(rm[0], "projects remove-iam-policy-binding") {
		t.Errorf("remove commands: %v", rm)
	}
	if gcp.GcloudCommands(gcp.Config{Mode: gcp.ModeNone}) != nil {
		t.Error("mode none prints commands")
	}
}

func TestProjectFromNodeProviderID(t *testing.T) {
	for id, want := range map[string]string{
		"gce://my-project/us-central1-a/gke-pool-1-abcd": "my-project",
		"gce://example.com:my-project/us-central1-a/x":   "example.com:my-project",
		"kwok://node-1":             "",
		"gce://BAD/us-central1-a/x": "",
		"gce://my-project":          "",
	} {
		got, _, ok := discover.FromProviderID(id)
		if ok && gcp.ValidateProjectID(got) != nil {
			got, ok = "", false
		}
		if got != want || ok != (want != "") {
			t.Errorf("project of %q = %q, %v", id, got, ok)
		}
	}
}
