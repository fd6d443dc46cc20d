package gcp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// TestDomainScopedEmail: IAM names a domain-scoped project's accounts
// NAME@PROJECT.DOMAIN.iam.gserviceaccount.com.
func TestDomainScopedEmail(t *testing.T) {
	cases := map[string]string{
		"my-project":                "metrics-adapter-gsa@my-project.iam.gserviceaccount.com",
		"google.com:skia-buildbots": "metrics-adapter-gsa@skia-buildbots.google.com.iam.gserviceaccount.com",
		"example.co.uk:proj-1234":   "metrics-adapter-gsa@proj-1234.example.co.uk.iam.gserviceaccount.com",
	}
	for project, want := range cases {
		cfg := identity.Config{Mode: identity.ModeGSA, ProjectID: project}.WithDefaults()
		if got := cfg.GSAEmail(); got != want {
			t.Errorf("GSAEmail(%s) = %s, want %s", project, got, want)
		}
	}
	if got := (identity.Config{GSA: "x@y.iam.gserviceaccount.com", GSAName: "n", ProjectID: "p-12345"}).GSAEmail(); got != "x@y.iam.gserviceaccount.com" {
		t.Errorf("IAM's e-mail not preferred: %s", got)
	}
}

// TestDomainScopedGSALifecycle: in gsa mode on a domain-scoped project,
// Ensure creates the account and grants through the e-mail IAM gave it;
// Remove revokes both grants and deletes it.
func TestDomainScopedGSALifecycle(t *testing.T) {
	const project = "google.com:skia-buildbots"
	e := newEnv(t)
	e.fake.AddProject(project, 42)
	ctx := context.Background()
	cfg := identity.Config{Mode: identity.ModeGSA, ProjectID: project}
	rep, err := e.client.Ensure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const email = "metrics-adapter-gsa@skia-buildbots.google.com.iam.gserviceaccount.com"
	if got := e.fake.ServiceAccounts(project); !slices.Equal(got, []string{email}) {
		t.Fatalf("accounts %v", got)
	}
	if rep.GSAEmail != email {
		t.Errorf("report e-mail %s", rep.GSAEmail)
	}
	if got := e.fake.IdentityHasRole(project, identity.DefaultNamespace, identity.DefaultKSA, email, gcp.RoleMonitoringViewer); got != "gsa" {
		t.Fatalf("adapter holds monitoring.viewer via %q, want gsa", got)
	}
	if _, err := e.client.Remove(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.ServiceAccounts(project); len(got) != 0 {
		t.Errorf("accounts left %v", got)
	}
	if b := e.fake.ProjectPolicy(project).Bindings; len(b) != 0 {
		t.Errorf("bindings left %+v (a deleted: member means the grant was not revoked first)", b)
	}
}

func (e *env) withContainer(t *testing.T) {
	t.Helper()
	e.useClient(t, gcp.Options{IAMEndpoint: e.url, CRMEndpoint: e.url, ContainerEndpoint: e.url})
}

// TestWorkloadPoolFromCluster: the pool is read from the cluster, and a
// pool that is not PROJECT.svc.id.goog is the one the grant names.
func TestWorkloadPoolFromCluster(t *testing.T) {
	e := newEnv(t)
	e.withContainer(t)
	ctx := context.Background()
	cl := gcp.Cluster{Project: testProject, Location: "us-central1", Name: "gpu"}
	e.fake.AddCluster(testProject, "us-central1", "gpu", true)
	const pool = "my-project.hub.svc.id.goog"
	e.fake.SetWorkloadPool(testProject, pool)
	got, err := e.client.WorkloadPool(ctx, cl)
	if err != nil || got != pool {
		t.Fatalf("WorkloadPool = %q, %v", got, err)
	}
	cfg := identity.Config{Mode: identity.ModePrincipal, ProjectID: testProject, Pool: got}
	if _, err := e.client.Ensure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if via := e.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, "", gcp.RoleMonitoringViewer); via != "principal" {
		t.Errorf("adapter holds the role via %q", via)
	}
	// Built from the project, the member names a pool that does not exist.
	_, err = e.client.Ensure(ctx, identity.Config{Mode: identity.ModeGSA, ProjectID: testProject})
	var ge *gcp.Error
	if !errors.As(err, &ge) || ge.Kind != gcp.KindWorkloadIdentityDisabled {
		t.Errorf("a built pool that is not the cluster's: %v", err)
	}
}

func TestWorkloadPoolErrors(t *testing.T) {
	e := newEnv(t)
	e.withContainer(t)
	ctx := context.Background()
	e.fake.AddCluster(testProject, "us-central1-a", "plain", false)
	_, err := e.client.WorkloadPool(ctx, gcp.Cluster{Project: testProject, Location: "us-central1-a", Name: "plain"})
	var ge *gcp.Error
	if !errors.As(err, &ge) || ge.Kind != gcp.KindWorkloadIdentityDisabled || !strings.Contains(err.Error(), "--workload-pool=my-project.svc.id.goog") {
		t.Errorf("cluster without Workload Identity: %v", err)
	}
	_, err = e.client.WorkloadPool(ctx, gcp.Cluster{Project: "hidden-project", Location: "us-central1", Name: "gpu"})
	if !errors.As(err, &ge) || ge.Kind != gcp.KindPermissionDenied || ge.Permission != "container.clusters.get" || !strings.Contains(ge.Role, "roles/container.clusterViewer") {
		t.Errorf("forbidden: %#v", err)
	}
	_, err = e.client.WorkloadPool(ctx, gcp.Cluster{Project: testProject, Location: "us-central1", Name: "nope"})
	if !errors.As(err, &ge) || ge.Kind != gcp.KindAPI || !strings.Contains(err.Error(), "Not found: projects/my-project/locations/us-central1/clusters/nope") {
		t.Errorf("not found: %v", err)
	}
	if n := e.fake.Calls(gcpfake.MethodGetCluster); n != 3 {
		t.Errorf("clusters.get called %d times, want 3 (no retries of final answers)", n)
	}
}
