package metadataserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/googleauth"
)

const gsa = "adapter@twin-project.iam.gserviceaccount.com"

func server(t *testing.T, wiUser string) *Cluster {
	t.Helper()
	policy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"policy": map[string]any{}, "serviceAccounts": map[string]any{
			gsa: map[string]any{"serviceAccount": map[string]any{"email": gsa}, "policy": map[string]any{"bindings": []any{
				map[string]any{"role": "roles/iam.workloadIdentityUser", "members": []string{wiUser}}}}}}})
	}))
	t.Cleanup(policy.Close)
	return &Cluster{Project: "twin-project", ProjectNumber: 42, Cluster: "twin", Location: "us-central1", Zone: "us-central1-a",
		Tokens: googleauth.NewTokens(), Policies: &googleauth.Policies{BaseURL: policy.URL}}
}

func fetch(t *testing.T, h http.Handler, path string, flavor bool) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/computeMetadata/v1/"+path, nil)
	if flavor {
		req.Header.Set("Metadata-Flavor", "Google")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func pod(annotation string, metadataServer bool) Pod {
	return Pod{Namespace: "custom-metrics", ServiceAccount: "adapter", Node: "node-a",
		GSA:                   func(context.Context) (string, error) { return annotation, nil },
		NodeHasMetadataServer: func(context.Context) (bool, error) { return metadataServer, nil }}
}

func token(t *testing.T, c *Cluster, h http.Handler) (int, string) {
	t.Helper()
	code, body := fetch(t, h, "instance/service-accounts/default/token?scopes=x", true)
	if code != 200 {
		return code, body
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(body), &tok)
	m, _ := c.Tokens.Member(tok.AccessToken)
	return code, m
}

func TestPaths(t *testing.T) {
	c := server(t, "")
	h := c.Handler(pod("", true))
	for path, want := range map[string]string{
		"project/project-id": "twin-project", "instance/attributes/cluster-name": "twin",
		"instance/attributes/cluster-location": "us-central1", "instance/zone": "projects/42/zones/us-central1-a",
		"instance/hostname": "node-a",
	} {
		if code, got := fetch(t, h, path, true); code != 200 || got != want {
			t.Errorf("%s: %d %q, want %q", path, code, got, want)
		}
	}
	if code, _ := fetch(t, h, "project/project-id", false); code != http.StatusForbidden {
		t.Errorf("without Metadata-Flavor: %d", code)
	}
}

func TestWorkloadIdentity(t *testing.T) {
	c := server(t, "serviceAccount:twin-project.svc.id.goog[custom-metrics/adapter]")
	if _, m := token(t, c, c.Handler(pod("", true))); m != googleauth.Principal(42, "twin-project", "custom-metrics", "adapter") {
		t.Errorf("no annotation: %s", m)
	}
	if _, m := token(t, c, c.Handler(pod(gsa, true))); m != "serviceAccount:"+gsa {
		t.Errorf("annotated: %s", m)
	}
	if code, body := token(t, c, c.Handler(pod("other@twin-project.iam.gserviceaccount.com", true))); code != 403 ||
		!strings.Contains(body, "iam.serviceAccounts.getAccessToken") {
		t.Errorf("unknown GSA: %d %s", code, body)
	}
	if _, m := token(t, c, c.Handler(pod(gsa, false))); m != "serviceAccount:42-compute@developer.gserviceaccount.com" {
		t.Errorf("node without the metadata server: %s", m)
	}
	c2 := server(t, "serviceAccount:twin-project.svc.id.goog[other/adapter]")
	if code, _ := token(t, c2, c2.Handler(pod(gsa, true))); code != 403 {
		t.Errorf("GSA without the KSA's workloadIdentityUser: %d", code)
	}
}
