package identity_test

import (
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
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
		err := identity.ValidateProjectID(id)
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
		err := identity.ValidateGSAName(name)
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "--gsa-name")) {
			t.Errorf("ValidateGSAName(%q) = %v", name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  identity.Config
		want string
	}{
		{identity.Config{}, "--project is required"},
		{identity.Config{Mode: identity.ModeNone}, ""},
		{identity.Config{Mode: "workload", ProjectID: "my-project"}, "--wi-mode \"workload\""},
		{identity.Config{Mode: identity.ModeGSA, ProjectID: "my-project", GSAName: "x"}, "--gsa-name"},
		{identity.Config{Mode: identity.ModePrincipal, ProjectID: "my-project", Namespace: "Bad_NS"}, "namespace"},
		{identity.Config{Mode: identity.ModePrincipal, ProjectID: "my-project", ProjectNumber: -1}, "project number"},
		{identity.Config{Mode: identity.ModeGSA, ProjectID: "my-project"}, ""},
	} {
		err := tc.cfg.WithDefaults().Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMembers(t *testing.T) {
	c := identity.Config{Mode: identity.ModePrincipal, ProjectID: "my-project", ProjectNumber: 123456789012}.WithDefaults()
	if got, want := c.PrincipalMember(), "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/my-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"; got != want {
		t.Errorf("principal member\n got %s\nwant %s", got, want)
	}
	if got, want := c.KSAMember(), "serviceAccount:my-project.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"; got != want {
		t.Errorf("KSA member %s", got)
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
		if ok && identity.ValidateProjectID(got) != nil {
			got, ok = "", false
		}
		if got != want || ok != (want != "") {
			t.Errorf("project of %q = %q, %v", id, got, ok)
		}
	}
}
