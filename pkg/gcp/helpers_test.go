package gcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

const (
	testProject = "my-project"
	testNumber  = int64(123456789012)
)

// foreignBindings are grants of other people, a conditional one among them,
// that no path of Ensure or Remove may change. The conditional binding of
// our role comes first, so code that ignored conditions would pick it.
func foreignBindings() []gcpfake.Binding {
	return []gcpfake.Binding{
		{Role: "roles/editor", Members: []string{"group:platform@example.com"}},
		{Role: gcp.RoleMonitoringViewer, Members: []string{"user:bob@example.com"}, Condition: &gcpfake.Expr{
			Title: "until-2030", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`}},
		{Role: gcp.RoleMonitoringViewer, Members: []string{"user:alice@example.com"}},
	}
}

// env is a fake Google API server with a client pointed at it whose
// retries and waits do not sleep but add up the time they would have slept.
type env struct {
	fake   *gcpfake.Server
	url    string
	client *gcp.Client
	slept  time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{fake: gcpfake.New()}
	e.fake.AddProject(testProject, testNumber)
	e.fake.SetProjectPolicy(testProject, foreignBindings())
	e.url = httptestURL(t, e.fake) + "/"
	e.useClient(t, gcp.Options{IAMEndpoint: e.url, CRMEndpoint: e.url})
	return e
}

// useClient points a new client built from o at the fake.
func (e *env) useClient(t *testing.T, o gcp.Options) {
	t.Helper()
	c, err := gcp.NewClient(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	sleep := func(ctx context.Context, d time.Duration) error { e.slept += d; return ctx.Err() }
	c.Retry.Sleep, c.Wait.Sleep = sleep, sleep
	e.client = c
}

func (e *env) cfg(mode identity.Mode) identity.Config {
	return identity.Config{Mode: mode, ProjectID: testProject}
}

func (e *env) writes() int {
	return e.fake.Calls(gcpfake.MethodSetProjectPolicy) + e.fake.Calls(gcpfake.MethodSetSAPolicy) +
		e.fake.Calls(gcpfake.MethodCreateServiceAccount) + e.fake.Calls(gcpfake.MethodDeleteServiceAccount)
}

// assertForeignIntact checks that every foreign binding is still there,
// unchanged (members may have been added to unconditional ones only by us).
func assertForeignIntact(t *testing.T, p gcpfake.Policy) {
	t.Helper()
	for _, want := range foreignBindings() {
		found := false
		for _, b := range p.Bindings {
			if b.Role != want.Role || (b.Condition == nil) != (want.Condition == nil) {
				continue
			}
			if want.Condition != nil && *b.Condition != *want.Condition {
				continue
			}
			found = true
			for _, m := range want.Members {
				if !slices.Contains(b.Members, m) {
					t.Errorf("foreign member %s of %s lost: %+v", m, want.Role, p.Bindings)
				}
			}
			if want.Condition != nil && !slices.Equal(b.Members, want.Members) {
				t.Errorf("conditional binding changed: %+v", b)
			}
		}
		if !found {
			t.Errorf("foreign binding %+v lost: %+v", want, p.Bindings)
		}
	}
	if p.Version != 3 {
		t.Errorf("policy version %d, want 3 (it has a conditional binding)", p.Version)
	}
}

func actions(r gcp.Report) []gcp.Action {
	var out []gcp.Action
	for _, s := range r.Steps {
		out = append(out, s.Action)
	}
	return out
}

func httptestURL(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
