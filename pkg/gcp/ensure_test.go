package gcp_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

func TestPrincipalLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.cfg(identity.ModePrincipal)
	cfg.Namespace, cfg.KSA = "", "" // defaults

	rep, err := e.client.Ensure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.client.ProjectNumber(ctx, testProject); n != testNumber || err != nil {
		t.Errorf("ProjectNumber = %d, %v", n, err)
	}
	if rep.ProjectNumber != testNumber || e.fake.Calls(gcpfake.MethodGetProject) != 2 {
		t.Errorf("project number %d resolved with %d projects.get calls", rep.ProjectNumber, e.fake.Calls(gcpfake.MethodGetProject))
	}
	if got := e.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, "", gcp.RoleMonitoringViewer); got != "principal" {
		t.Fatalf("adapter identity holds monitoring.viewer via %q, want principal", got)
	}
	if got := actions(rep); !slices.Equal(got, []gcp.Action{gcp.ActionGranted}) {
		t.Errorf("first run steps %v", got)
	}
	assertForeignIntact(t, e.fake.ProjectPolicy(testProject))
	if n := len(e.fake.ServiceAccounts(testProject)); n != 0 {
		t.Errorf("principal mode created %d service accounts", n)
	}

	e.fake.ResetCalls()
	cfg.ProjectNumber = testNumber
	rep, err = e.client.Ensure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.writes(); w != 0 || e.fake.Calls(gcpfake.MethodGetProject) != 0 {
		t.Errorf("second run made %d writes and %d projects.get calls, want none", w, e.fake.Calls(gcpfake.MethodGetProject))
	}
	if got := actions(rep); !slices.Equal(got, []gcp.Action{gcp.ActionUnchanged}) {
		t.Errorf("second run steps %v", got)
	}

	rep, err = e.client.Remove(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rep); !slices.Equal(got, []gcp.Action{gcp.ActionRevoked}) {
		t.Errorf("remove steps %v", got)
	}
	if got := e.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, "", gcp.RoleMonitoringViewer); got != "" {
		t.Errorf("after remove the adapter still holds the role via %q", got)
	}
	assertForeignIntact(t, e.fake.ProjectPolicy(testProject))
	if len(e.fake.ProjectPolicy(testProject).Bindings) != len(foreignBindings()) {
		t.Errorf("after remove: %+v", e.fake.ProjectPolicy(testProject).Bindings)
	}

	e.fake.ResetCalls()
	if _, err := e.client.Remove(ctx, cfg); err != nil || e.writes() != 0 {
		t.Errorf("second remove: err %v, %d writes", err, e.writes())
	}
}

func TestGSALifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.cfg(identity.ModeGSA)
	email := cfg.WithDefaults().GSAEmail()
	if email != "metrics-adapter-gsa@my-project.iam.gserviceaccount.com" {
		t.Fatalf("GSA e-mail %s", email)
	}

	rep, err := e.client.Ensure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rep); !slices.Equal(got, []gcp.Action{gcp.ActionCreated, gcp.ActionGranted, gcp.ActionGranted}) {
		t.Errorf("first run steps %v", got)
	}
	if rep.GSAEmail != email || cfg.WithDefaults().GSAEmail() != email {
		t.Errorf("report GSA %q, config %q", rep.GSAEmail, cfg.WithDefaults().GSAEmail())
	}
	if got := e.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, email, gcp.RoleMonitoringViewer); got != "gsa" {
		t.Fatalf("adapter identity holds monitoring.viewer via %q, want gsa", got)
	}
	if got := e.fake.IdentityHasRole(testProject, identity.DefaultNamespace, "other-ksa", email, gcp.RoleMonitoringViewer); got != "" {
		t.Errorf("another KSA may impersonate the GSA (%q)", got)
	}
	assertForeignIntact(t, e.fake.ProjectPolicy(testProject))
	var out bytes.Buffer
	_ = rep.Print(&out)
	if !strings.Contains(out.String(), "serviceaccount/"+email+" created") {
		t.Errorf("report:\n%s", out.String())
	}

	e.fake.ResetCalls()
	rep, err = e.client.Ensure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.writes(); w != 0 {
		t.Errorf("second run made %d writes, want 0", w)
	}
	if len(rep.Changed()) != 0 {
		t.Errorf("second run changed %v", rep.Changed())
	}

	rep, err = e.client.Remove(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rep); !slices.Equal(got, []gcp.Action{gcp.ActionRevoked, gcp.ActionDeleted}) {
		t.Errorf("remove steps %v", got)
	}
	if len(e.fake.ServiceAccounts(testProject)) != 0 {
		t.Errorf("GSA not deleted")
	}
	pol := e.fake.ProjectPolicy(testProject)
	assertForeignIntact(t, pol)
	for _, b := range pol.Bindings {
		for _, m := range b.Members {
			if strings.Contains(m, "metrics-adapter-gsa") {
				t.Errorf("left behind: %s in %s", m, b.Role)
			}
		}
	}
	e.fake.ResetCalls()
	if _, err := e.client.Remove(ctx, cfg); err != nil || e.writes() != 0 {
		t.Errorf("second remove: err %v, %d writes", err, e.writes())
	}
}

// A GSA the user made is adopted and, at cleanup, kept: only our grants go.
func TestGSAAdoptedIsKept(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.cfg(identity.ModeGSA)
	cfg.GSAName = "users-own-gsa"
	email := cfg.GSAEmail()
	createSA(t, e, cfg.GSAName)
	// The user's account already lets someone else impersonate it.
	other := "serviceAccount:my-project.svc.id.goog[other/app]"
	if _, err := e.client.Ensure(ctx, identity.Config{Mode: identity.ModeGSA, ProjectID: testProject, GSAName: cfg.GSAName, Namespace: "other", KSA: "app"}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.client.Ensure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Steps[0].Action != gcp.ActionUnchanged || !strings.Contains(rep.Steps[0].Note, "adopted") {
		t.Errorf("first step %+v, want the existing account adopted", rep.Steps[0])
	}
	if _, err := e.client.Remove(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.fake.ServiceAccount(email); !ok {
		t.Fatal("cleanup deleted a service account it did not create")
	}
	sap := e.fake.ServiceAccountPolicy(email)
	if len(sap.Bindings) != 1 || !slices.Equal(sap.Bindings[0].Members, []string{other}) {
		t.Errorf("GSA policy after cleanup: %+v, want only %s", sap.Bindings, other)
	}
}

func createSA(t *testing.T, e *env, id string) {
	t.Helper()
	srv := httptestURL(t, e.fake)
	resp, err := http.Post(srv+"/v1/projects/"+testProject+"/serviceAccounts", "application/json",
		strings.NewReader(`{"accountId":"`+id+`","serviceAccount":{"displayName":"mine"}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("create %s: %v %v", id, err, resp)
	}
	resp.Body.Close()
}

// A conditional grant of our role to our member is someone's deliberate,
// limited grant: Ensure still adds the unconditional one the adapter needs,
// and Remove takes away only that.
func TestConditionalGrantOfOurMemberIsNotOurs(t *testing.T) {
	e := newEnv(t)
	cfg := identity.Config{Mode: identity.ModePrincipal, ProjectID: testProject, ProjectNumber: testNumber}
	cond := gcpfake.Binding{Role: gcp.RoleMonitoringViewer, Members: []string{cfg.WithDefaults().PrincipalMember()},
		Condition: &gcpfake.Expr{Title: "office-hours", Expression: `request.time.getHours("Europe/Berlin") < 18`}}
	e.fake.SetProjectPolicy(testProject, append([]gcpfake.Binding{cond}, foreignBindings()...))
	ctx := context.Background()
	if rep, err := e.client.Ensure(ctx, cfg); err != nil || len(rep.Changed()) != 1 {
		t.Fatalf("ensure: %v %v", err, rep.Steps)
	}
	if !e.fake.HasRole(testProject, cfg.WithDefaults().PrincipalMember(), gcp.RoleMonitoringViewer) {
		t.Fatal("no unconditional grant")
	}
	if _, err := e.client.Remove(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if e.fake.HasRole(testProject, cfg.WithDefaults().PrincipalMember(), gcp.RoleMonitoringViewer) {
		t.Error("unconditional grant not removed")
	}
	found := false
	for _, b := range e.fake.ProjectPolicy(testProject).Bindings {
		found = found || (b.Condition != nil && *b.Condition == *cond.Condition && slices.Equal(b.Members, cond.Members))
	}
	if !found {
		t.Errorf("the conditional grant was touched: %+v", e.fake.ProjectPolicy(testProject).Bindings)
	}
	assertForeignIntact(t, e.fake.ProjectPolicy(testProject))
}
