package gcpfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

type client struct {
	t   *testing.T
	url string
}

func newServer(t *testing.T) (*gcpfake.Server, client) {
	f := gcpfake.New()
	f.AddProject("my-project", 123456789012)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, client{t, srv.URL}
}

// do sends a call and decodes the answer; it returns the HTTP status.
func (c client) do(method, path, body string, out any) int {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func TestPolicyEtagsAndVersions(t *testing.T) {
	_, c := newServer(t)
	var p gcpfake.Policy
	c.do("POST", "/v1/projects/my-project:getIamPolicy", `{"options":{"requestedPolicyVersion":3}}`, &p)
	first := p.Etag
	set := `{"policy":{"version":3,"etag":"` + first + `","bindings":[{"role":"roles/viewer","members":["user:a@example.com"],
		"condition":{"title":"t","expression":"request.time < timestamp(\"2030-01-01T00:00:00Z\")"}}]}}`
	if code := c.do("POST", "/v1/projects/my-project:setIamPolicy", set, &p); code != 200 || p.Etag == first || p.Version != 3 {
		t.Fatalf("set: %d %+v", code, p)
	}
	// the same etag again is stale now
	var ge googleError
	if code := c.do("POST", "/v1/projects/my-project:setIamPolicy", set, &ge); code != 409 || ge.Error.Status != "ABORTED" || ge.Error.Code != 409 {
		t.Errorf("stale etag: %d %+v", code, ge)
	}
	// a version-1 reader sees no condition and a _withcond_ role…
	var v1 gcpfake.Policy
	c.do("POST", "/v3/projects/my-project:getIamPolicy", `{}`, &v1)
	if v1.Version != 1 || v1.Bindings[0].Condition != nil || !strings.Contains(v1.Bindings[0].Role, "roles/viewer_withcond_") {
		t.Errorf("version-1 view: %+v", v1)
	}
	// …and cannot write it back.
	back, _ := json.Marshal(map[string]any{"policy": v1})
	if code := c.do("POST", "/v1/projects/my-project:setIamPolicy", string(back), &ge); code != 400 {
		t.Errorf("writing a version-1 policy over conditions: %d", code)
	}
}

func TestServiceAccounts(t *testing.T) {
	f, c := newServer(t)
	var ge googleError
	if code := c.do("POST", "/v1/projects/my-project/serviceAccounts", `{"accountId":"Bad_Name"}`, &ge); code != 400 || ge.Error.Status != "INVALID_ARGUMENT" {
		t.Errorf("bad account id: %d %+v", code, ge)
	}
	var sa gcpfake.ServiceAccount
	c.do("POST", "/v1/projects/my-project/serviceAccounts", `{"accountId":"my-gsa-1","serviceAccount":{"displayName":"x"}}`, &sa)
	email := "my-gsa-1@my-project.iam.gserviceaccount.com"
	if sa.Email != email || sa.Name != "projects/my-project/serviceAccounts/"+email || len(sa.UniqueID) != 21 {
		t.Errorf("created %+v", sa)
	}
	if code := c.do("POST", "/v1/projects/my-project/serviceAccounts", `{"accountId":"my-gsa-1"}`, &ge); code != 409 || ge.Error.Status != "ALREADY_EXISTS" {
		t.Errorf("second create: %d %+v", code, ge)
	}
	if code := c.do("GET", "/v1/projects/-/serviceAccounts/"+sa.UniqueID, "", &sa); code != 200 || sa.Email != email {
		t.Errorf("get by unique id via projects/-: %d", code)
	}
	f.SetProjectPolicy("my-project", []gcpfake.Binding{{Role: "roles/viewer", Members: []string{"serviceAccount:" + email}}})
	c.do("DELETE", "/v1/projects/my-project/serviceAccounts/"+email, "", nil)
	p := f.ProjectPolicy("my-project")
	if want := "deleted:serviceAccount:" + email + "?uid=" + sa.UniqueID; len(p.Bindings) != 1 || p.Bindings[0].Members[0] != want {
		t.Errorf("after delete: %+v, want %s", p.Bindings, want)
	}
	// binding a service account that does not exist
	set := `{"policy":{"bindings":[{"role":"roles/viewer","members":["serviceAccount:` + email + `"]}]}}`
	if code := c.do("POST", "/v1/projects/my-project:setIamPolicy", set, &ge); code != 400 || !strings.Contains(ge.Error.Message, "does not exist") {
		t.Errorf("binding a missing account: %d %+v", code, ge)
	}
}

func TestWorkloadIdentityPoolAndDebugAPI(t *testing.T) {
	f, c := newServer(t)
	member := "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/my-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"
	set := `{"policy":{"bindings":[{"role":"roles/monitoring.viewer","members":["` + member + `"]}]}}`
	f.SetWorkloadIdentity("my-project", false)
	var ge googleError
	if code := c.do("POST", "/v1/projects/my-project:setIamPolicy", set, &ge); code != 400 || !strings.Contains(ge.Error.Message, "Identity Pool does not exist (my-project.svc.id.goog)") {
		t.Errorf("pool off: %d %+v", code, ge)
	}
	f.SetWorkloadIdentity("my-project", true)
	var ans struct {
		Granted bool   `json:"granted"`
		Via     string `json:"via"`
	}
	q := "/_gcpfake/v1/identity?project=my-project&namespace=custom-metrics&ksa=custom-metrics-stackdriver-adapter"
	if c.do("GET", q, "", &ans); ans.Granted {
		t.Error("granted before any binding")
	}
	c.do("POST", "/v1/projects/my-project:setIamPolicy", set, nil)
	if c.do("GET", q, "", &ans); !ans.Granted || ans.Via != "principal" {
		t.Errorf("after binding: %+v", ans)
	}
	c.do("POST", "/_gcpfake/v1/faults", `{"method":"cloudresourcemanager.projects.get","times":1,"code":403,"status":"PERMISSION_DENIED","message":"no","permission":"resourcemanager.projects.get"}`, nil)
	var body map[string]any
	if code := c.do("GET", "/v1/projects/my-project", "", &body); code != 403 || !strings.Contains(mustString(body), "resourcemanager.projects.get") {
		t.Errorf("scripted permission denied: %d %v", code, body)
	}
	var calls map[string]int
	if c.do("GET", "/_gcpfake/v1/calls", "", &calls); calls[gcpfake.MethodGetProject] != 1 || calls[gcpfake.MethodSetProjectPolicy] != 2 {
		t.Errorf("calls %v", calls)
	}
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestClustersGet: GKE's clusters.get gives the cluster's workload identity
// pool, omits it for a cluster without Workload Identity, answers 404 for
// an unknown cluster of a known project and 403 naming the permission for
// a project the caller cannot see, in Google's error shape.
func TestClustersGet(t *testing.T) {
	f, c := newServer(t)
	f.AddCluster("my-project", "us-central1", "gpu", true)
	f.AddCluster("my-project", "us-central1-a", "plain", false)
	var cl struct {
		Name, Location, Status string
		WorkloadIdentityConfig *struct {
			WorkloadPool string `json:"workloadPool"`
		} `json:"workloadIdentityConfig"`
	}
	if code := c.do("GET", "/v1/projects/my-project/locations/us-central1/clusters/gpu", "", &cl); code != 200 ||
		cl.Name != "gpu" || cl.Location != "us-central1" || cl.Status != "RUNNING" ||
		cl.WorkloadIdentityConfig == nil || cl.WorkloadIdentityConfig.WorkloadPool != "my-project.svc.id.goog" {
		t.Fatalf("clusters.get: %d %+v", code, cl)
	}
	f.SetWorkloadPool("my-project", "my-project.other.svc.id.goog")
	c.do("GET", "/v1/projects/my-project/locations/us-central1/clusters/gpu", "", &cl)
	if cl.WorkloadIdentityConfig.WorkloadPool != "my-project.other.svc.id.goog" {
		t.Errorf("pool after SetWorkloadPool = %q", cl.WorkloadIdentityConfig.WorkloadPool)
	}
	cl.WorkloadIdentityConfig = nil
	if code := c.do("GET", "/v1/projects/123456789012/locations/us-central1-a/clusters/plain", "", &cl); code != 200 || cl.WorkloadIdentityConfig != nil {
		t.Errorf("cluster without Workload Identity (by project number): %d %+v", code, cl)
	}
	var e googleError
	if code := c.do("GET", "/v1/projects/my-project/locations/us-central1/clusters/nope", "", &e); code != 404 ||
		e.Error.Status != "NOT_FOUND" || e.Error.Message != "Not found: projects/my-project/locations/us-central1/clusters/nope." {
		t.Errorf("unknown cluster: %d %+v", code, e)
	}
	if code := c.do("GET", "/v1/projects/hidden/locations/us-central1/clusters/gpu", "", &e); code != 403 ||
		e.Error.Status != "PERMISSION_DENIED" || !strings.Contains(e.Error.Message, `Required "container.clusters.get" permission(s) for "projects/hidden/locations/us-central1/clusters/gpu".`) {
		t.Errorf("hidden project: %d %+v", code, e)
	}
	if n := f.Calls(gcpfake.MethodGetCluster); n != 5 {
		t.Errorf("clusters.get calls = %d, want 5", n)
	}
}

// TestDomainScopedProject: a project "example.com:proj" names its service
// accounts NAME@proj.example.com.iam.gserviceaccount.com, its ID may be
// escaped in URLs (%3A) without being read as a custom verb, and its
// accounts can be granted roles.
func TestDomainScopedProject(t *testing.T) {
	f := gcpfake.New()
	f.AddProject("example.com:proj", 42)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := client{t, srv.URL}
	var p map[string]any
	if code := c.do("GET", "/v1/projects/example.com%3Aproj", "", &p); code != 200 || p["projectId"] != "example.com:proj" {
		t.Fatalf("get project: %d %v", code, p)
	}
	var sa gcpfake.ServiceAccount
	if code := c.do("POST", "/v1/projects/example.com:proj/serviceAccounts", `{"accountId":"metrics-adapter-gsa"}`, &sa); code != 200 ||
		sa.Email != "metrics-adapter-gsa@proj.example.com.iam.gserviceaccount.com" {
		t.Fatalf("create: %d %+v", code, sa)
	}
	var pol gcpfake.Policy
	c.do("POST", "/v1/projects/example.com%3Aproj:getIamPolicy", `{}`, &pol)
	set := `{"policy":{"etag":"` + pol.Etag + `","bindings":[{"role":"roles/monitoring.viewer","members":["serviceAccount:` + sa.Email + `"]}]}}`
	if code := c.do("POST", "/v1/projects/example.com%3Aproj:setIamPolicy", set, &pol); code != 200 {
		t.Fatalf("setIamPolicy: %d %+v", code, pol)
	}
	bad := `{"policy":{"etag":"` + pol.Etag + `","bindings":[{"role":"roles/monitoring.viewer","members":["serviceAccount:nobody-here@proj.example.com.iam.gserviceaccount.com"]}]}}`
	if code := c.do("POST", "/v1/projects/example.com%3Aproj:setIamPolicy", bad, nil); code != 400 {
		t.Errorf("a missing account of the project was accepted: %d", code)
	}
	if !f.HasRole("example.com:proj", "serviceAccount:"+sa.Email, "roles/monitoring.viewer") {
		t.Error("grant not stored")
	}
}
