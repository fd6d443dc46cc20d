package gcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

func TestReadGrantsOnlyReads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := identity.Config{Mode: identity.ModeGSA, ProjectID: testProject}.WithDefaults()
	if _, err := e.client.Ensure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetCalls()
	g, err := e.client.ProjectGrants(ctx, testProject)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Has(gcp.RoleMonitoringViewer, cfg.GSAMember()) || !g.Has(gcp.RoleMonitoringViewer, "user:alice@example.com") {
		t.Errorf("project grants miss members: %v", g.Members(gcp.RoleMonitoringViewer))
	}
	if g.Has(gcp.RoleMonitoringViewer, "user:bob@example.com") {
		t.Error("a conditional grant counted as unconditional")
	}
	sa, err := e.client.ServiceAccountGrants(ctx, testProject, cfg.GSAEmail())
	if err != nil || !sa.Has(gcp.RoleWorkloadIdentityUser, cfg.KSAMember()) {
		t.Errorf("SA grants: %v %v", sa.Members(gcp.RoleWorkloadIdentityUser), err)
	}
	if ok, err := e.client.ServiceAccountExists(ctx, testProject, cfg.GSAEmail()); !ok || err != nil {
		t.Errorf("exists = %v, %v", ok, err)
	}
	if ok, err := e.client.ServiceAccountExists(ctx, testProject, "nobody@my-project.iam.gserviceaccount.com"); ok || err != nil {
		t.Errorf("missing account: exists = %v, %v", ok, err)
	}
	if w := e.writes(); w != 0 {
		t.Errorf("reads wrote %d times", w)
	}
	e.fake.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetProjectPolicy, Code: 403, Status: "PERMISSION_DENIED",
		Message: "denied", Permission: "resourcemanager.projects.getIamPolicy"})
	_, err = e.client.ProjectGrants(ctx, testProject)
	var ge *gcp.Error
	if !asErr(err, &ge) || ge.Kind != gcp.KindPermissionDenied || ge.Permission != "resourcemanager.projects.getIamPolicy" {
		t.Errorf("403: %v", err)
	}
}

func asErr(err error, target **gcp.Error) bool {
	e, ok := err.(*gcp.Error)
	*target = e
	return ok
}

// The Monitoring reader sends the adapter's filter and the window to the
// endpoint override, and reads points newest first.
func TestMonitoringPodSeries(t *testing.T) {
	var gotPath, gotFilter, gotStart string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotFilter, gotStart = r.URL.Path, r.URL.Query().Get("filter"), r.URL.Query().Get("interval.startTime")
		if strings.Contains(gotFilter, "denied") {
			w.WriteHeader(403)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": 403, "status": "PERMISSION_DENIED",
				"message": "Permission monitoring.timeSeries.list denied (or the resource may not exist)."}})
			return
		}
		_, _ = w.Write([]byte(`{"timeSeries":[{"metric":{"type":"t","labels":{"pod":"vllm-a"}},"resource":{"type":"prometheus_target","labels":{"namespace":"default"}},
			"points":[{"interval":{"endTime":"2026-12-01T19:59:00Z"},"value":{"doubleValue":1}},{"interval":{"endTime":"2026-12-01T19:59:30Z"},"value":{"int64Value":"2"}}]}]}`))
	}))
	defer srv.Close()
	m, err := gcp.NewMonitoring(context.Background(), gcp.Options{}, srv.URL+"/v3/")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	s, err := m.PodSeries(context.Background(), "my-project", "prometheus.googleapis.com/vllm:num_requests_running/gauge", "default", []string{"vllm-a", "vllm-b"}, end.Add(-10*time.Minute), end)
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/v3/projects/my-project/timeSeries" || gotStart != "2026-12-01T19:50:00Z" {
		t.Errorf("path %s start %s", gotPath, gotStart)
	}
	want := `metric.type = "prometheus.googleapis.com/vllm:num_requests_running/gauge" AND resource.type = "prometheus_target" AND resource.labels.namespace = "default" AND metric.labels.pod = one_of("vllm-a","vllm-b")`
	if gotFilter != want {
		t.Errorf("filter\n %s\nwant\n %s", gotFilter, want)
	}
	if len(s) != 1 || s[0].Pod != "vllm-a" || s[0].Points[0].Value != 2 || s[0].Labels["resource.namespace"] != "default" {
		t.Errorf("series %+v", s)
	}
	_, err = m.PodSeries(context.Background(), "my-project", "denied", "default", nil, end, end)
	var ge *gcp.Error
	if !asErr(err, &ge) || ge.Kind != gcp.KindPermissionDenied || ge.Permission != "monitoring.timeSeries.list" {
		t.Errorf("403: %#v", err)
	}
}
