package gcp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// Faults that must converge: the end state is the normal one, foreign
// bindings (the conditional one included) survive, and the retries stay
// within the budget.
func TestFaultsConverge(t *testing.T) {
	cases := []struct {
		name   string
		mode   identity.Mode
		script func(f *gcpfake.Server)
		check  func(t *testing.T, e *env)
	}{
		{name: "concurrent writers on the project policy", mode: identity.ModePrincipal,
			script: func(f *gcpfake.Server) { f.ConcurrentWriters(3) },
			check: func(t *testing.T, e *env) {
				if n := e.fake.Calls(gcpfake.MethodSetProjectPolicy); n != 4 {
					t.Errorf("%d setIamPolicy calls, want 3 conflicts + 1", n)
				}
				viewers := 0
				for _, b := range e.fake.ProjectPolicy(testProject).Bindings {
					if b.Role == "roles/viewer" {
						viewers = len(b.Members)
					}
				}
				if viewers != 3 {
					t.Errorf("the concurrent writers' %d grants were not all kept", viewers)
				}
			}},
		{name: "concurrent writers in gsa mode", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) { f.ConcurrentWriters(2) }},
		{name: "429 on reads and writes", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetProjectPolicy, Times: 2, Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Quota exceeded for quota metric 'Read requests'."})
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodSetSAPolicy, Times: 2, Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Quota exceeded."})
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodCreateServiceAccount, Times: 1, Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Quota exceeded."})
			}},
		{name: "412 precondition failed", mode: identity.ModePrincipal,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodSetProjectPolicy, Times: 2, Code: 412, Status: "FAILED_PRECONDITION", Message: "Precondition check failed."})
			}},
		{name: "503 on projects.get", mode: identity.ModePrincipal,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetProject, Times: 1, Code: 503, Status: "UNAVAILABLE", Message: "The service is currently unavailable."})
			}},
		{name: "new GSA answers 404 for a while", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) { f.StaleReadsAfterCreate(4, 404, 0) },
			check: func(t *testing.T, e *env) {
				// the first read (404) before create, 4 stale, 3 good.
				if n := e.fake.Calls(gcpfake.MethodGetServiceAccount); n != 8 {
					t.Errorf("%d serviceAccounts.get calls, want 8", n)
				}
			}},
		{name: "new GSA flips between 200 and 403", mode: identity.ModeGSA,
			// good reads during the wait, then stale ones on getIamPolicy
			// and when named in the project policy ("400 … does not exist").
			script: func(f *gcpfake.Server) { f.StaleReadsAfterCreate(3, 403, 3) }},
		{name: "400 does not exist on set, right after create", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodSetProjectPolicy, Times: 2, Code: 400, Status: "INVALID_ARGUMENT",
					Message: "Service account metrics-adapter-gsa@my-project.iam.gserviceaccount.com does not exist."})
			}},
		// The account exists (seeded below) but the first read misses it,
		// so create answers 409 ALREADY_EXISTS: adopt, do not fail.
		{name: "GSA created concurrently (409 ALREADY_EXISTS on create)", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetServiceAccount, Times: 1, Code: 404, Status: "NOT_FOUND", Message: "Unknown service account"})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.cfg(tc.mode)
			if strings.Contains(tc.name, "ALREADY_EXISTS") {
				createSA(t, e, identity.DefaultGSAName)
			}
			tc.script(e.fake)
			rep, err := e.client.Ensure(context.Background(), cfg)
			if err != nil {
				t.Fatalf("did not converge: %v", err)
			}
			want := "principal"
			if tc.mode == identity.ModeGSA {
				want = "gsa"
			}
			if got := e.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, rep.GSAEmail, gcp.RoleMonitoringViewer); got != want {
				t.Errorf("identity holds the role via %q, want %q", got, want)
			}
			assertForeignIntact(t, e.fake.ProjectPolicy(testProject))
			if e.slept > gcp.DefaultRetry().Budget+gcp.DefaultWait().Budget {
				t.Errorf("slept %s", e.slept)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
			// and cleanup under the same weather
			tc.script(e.fake)
			if _, err := e.client.Remove(context.Background(), cfg); err != nil && !strings.Contains(tc.name, "ALREADY_EXISTS") {
				t.Fatalf("remove: %v", err)
			}
			assertForeignIntact(t, e.fake.ProjectPolicy(testProject))
		})
	}
}

// Faults that must fail, with the named cause and what was done before.
func TestFaultsFail(t *testing.T) {
	cases := []struct {
		name       string
		mode       identity.Mode
		script     func(f *gcpfake.Server)
		kind       gcp.Kind
		msg        []string // all must appear in the error text
		changedYet int      // changes reported before the failure
	}{
		{name: "conflicts forever", mode: identity.ModePrincipal,
			script: func(f *gcpfake.Server) { f.ConcurrentWriters(1000) },
			kind:   gcp.KindGaveUp, msg: []string{"setIamPolicy on projects/my-project", "concurrent policy changes", "gave up after"}},
		{name: "workload identity off, principal", mode: identity.ModePrincipal,
			script: func(f *gcpfake.Server) { f.SetWorkloadIdentity(testProject, false) },
			kind:   gcp.KindWorkloadIdentityDisabled,
			msg:    []string{"Workload Identity is not enabled on this cluster", "--workload-pool=my-project.svc.id.goog"}},
		{name: "workload identity off, gsa", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) { f.SetWorkloadIdentity(testProject, false) },
			kind:   gcp.KindWorkloadIdentityDisabled, changedYet: 1,
			msg: []string{"Workload Identity is not enabled", "gcloud container clusters update", "changed before the failure", "metrics-adapter-gsa@my-project.iam.gserviceaccount.com created"}},
		{name: "no permission to create service accounts", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodCreateServiceAccount, Times: -1, Code: 403, Status: "PERMISSION_DENIED",
					Message: "Permission 'iam.serviceAccounts.create' denied on resource (or it may not exist).", Permission: "iam.serviceAccounts.create"})
			},
			kind: gcp.KindPermissionDenied, msg: []string{"permission iam.serviceAccounts.create denied", "roles/iam.serviceAccountAdmin", "--print-gcloud"}},
		{name: "no permission to set the project policy (no ErrorInfo)", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodSetProjectPolicy, Times: -1, Code: 403, Status: "PERMISSION_DENIED",
					Message: "The caller does not have permission"})
			},
			kind: gcp.KindPermissionDenied, changedYet: 2,
			msg: []string{"permission resourcemanager.projects.setIamPolicy denied", "roles/resourcemanager.projectIamAdmin", "roles/iam.workloadIdentityUser serviceAccount:my-project.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter] granted"}},
		{name: "no permission on the new GSA's policy (retried as staleness, then named)", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetSAPolicy, Times: -1, Code: 403, Status: "PERMISSION_DENIED",
					Message: "Permission 'iam.serviceAccounts.getIamPolicy' denied on resource (or it may not exist)."})
			},
			kind: gcp.KindPermissionDenied, changedYet: 1,
			msg: []string{"permission iam.serviceAccounts.getIamPolicy denied", "roles/iam.serviceAccountAdmin"}},
		{name: "quota project", mode: identity.ModePrincipal,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetProject, Times: -1, Code: 403, Status: "PERMISSION_DENIED", Reason: "SERVICE_DISABLED",
					Message: "Your application is authenticating by using local Application Default Credentials. The cloudresourcemanager.googleapis.com API requires a quota project, which is not set by default."})
			},
			kind: gcp.KindQuotaProject, msg: []string{"gcloud auth application-default set-quota-project my-project"}},
		{name: "API disabled", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) {
				f.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetServiceAccount, Times: -1, Code: 403, Status: "PERMISSION_DENIED", Reason: "SERVICE_DISABLED",
					Message: "Identity and Access Management (IAM) API has not been used in project 123456789012 before or it is disabled."})
			},
			kind: gcp.KindServiceDisabled, msg: []string{"gcloud services enable iam.googleapis.com"}},
		{name: "new GSA never becomes readable", mode: identity.ModeGSA,
			script: func(f *gcpfake.Server) { f.StaleReadsAfterCreate(1000, 404, 0) },
			kind:   gcp.KindNotConsistent, changedYet: 1, msg: []string{"run the command again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.fake.ProjectPolicy(testProject)
			tc.script(e.fake)
			rep, err := e.client.Ensure(context.Background(), e.cfg(tc.mode))
			var ge *gcp.Error
			if !errors.As(err, &ge) || ge.Kind != tc.kind {
				t.Fatalf("error %v (%T), want kind %s", err, err, tc.kind)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not say %q:\n%v", m, err)
				}
			}
			if n := len(rep.Changed()); n != tc.changedYet {
				t.Errorf("report lists %d changes before the failure, want %d: %v", n, tc.changedYet, rep.Steps)
			}
			if e.slept > gcp.DefaultRetry().Budget+gcp.DefaultWait().Budget {
				t.Errorf("slept %s before failing", e.slept)
			}
			after := e.fake.ProjectPolicy(testProject)
			assertForeignIntact(t, after)
			if tc.kind != gcp.KindGaveUp && after.Etag != before.Etag {
				t.Errorf("project policy written although the run failed")
			}
		})
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	_, err := gcp.NewClient(context.Background(), gcp.Options{})
	var ge *gcp.Error
	if !errors.As(err, &ge) || ge.Kind != gcp.KindNoCredentials ||
		!strings.Contains(err.Error(), "gcloud auth application-default login") || !strings.Contains(err.Error(), "--wi-mode none") {
		t.Fatalf("got %v", err)
	}
}

func TestRetryBudgetBoundsTime(t *testing.T) {
	e := newEnv(t)
	e.fake.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetProjectPolicy, Times: -1, Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Quota exceeded."})
	_, err := e.client.Ensure(context.Background(), identity.Config{Mode: identity.ModePrincipal, ProjectID: testProject, ProjectNumber: testNumber})
	if err == nil || e.slept > 30*time.Second || e.slept < 10*time.Second {
		t.Fatalf("err %v after sleeping %s, want a failure after ≈30 s", err, e.slept)
	}
}
