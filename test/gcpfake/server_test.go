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
