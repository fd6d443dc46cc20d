package cloudmonitoring

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/googleauth"
)

const viewer = "serviceAccount:viewer@twin-project.iam.gserviceaccount.com"

// fixture: a store with two vLLM pods' gauge, an upper-case DCGM gauge and a
// counter; a policy server where only viewer holds roles/monitoring.viewer.
func fixture(t *testing.T) (*httptest.Server, *googleauth.Tokens, time.Time) {
	t.Helper()
	st := gmp.NewStore(0)
	now := time.Now().Add(-time.Second)
	target := func(name, pod string, extra ...string) labels.Labels {
		kv := append([]string{"__name__", name, "project_id", "twin-project", "location", "us-central1", "cluster", "twin",
			"namespace", "tutorial", "job", "gemma-server", "instance", pod + ":8081", "pod", pod}, extra...)
		return labels.FromStrings(kv...)
	}
	for i := 10; i >= 0; i-- {
		ts := now.Add(-time.Duration(i) * 10 * time.Second).UnixMilli()
		st.Append(target("vllm:num_requests_running", "p1", "model_name", "gemma"), gmp.Gauge, ts, float64(10-i))
		st.Append(target("vllm:num_requests_running", "p2", "model_name", "gemma"), gmp.Gauge, ts, 3)
		st.Append(target("DCGM_FI_DEV_GPU_UTIL", "dcgm-0"), gmp.Gauge, ts, 80)
		st.Append(target("vllm:request_success_total", "p1"), gmp.Counter, ts, float64(100*(10-i)))
	}
	policy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_gcpfake/v1/projects/twin-project" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"policy": map[string]any{"bindings": []any{
			map[string]any{"role": "roles/monitoring.viewer", "members": []string{viewer}},
			map[string]any{"role": "roles/monitoring.viewer", "members": []string{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/twin-project.svc.id.goog/namespace/ns-granted"}},
		}}})
	}))
	t.Cleanup(policy.Close)
	tokens := googleauth.NewTokens()
	srv := httptest.NewServer(&Server{Store: st, Tokens: tokens, Policies: &googleauth.Policies{BaseURL: policy.URL}})
	t.Cleanup(srv.Close)
	return srv, tokens, now
}

func get(t *testing.T, srv *httptest.Server, token, path string, q url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// The filter and parameters the real adapter sends for an HPA on the
// tutorial's gauge (query_builder.go, filter_builder.go).
func adapterQuery(metric string, pods ...string) url.Values {
	quoted := make([]string, len(pods))
	for i, p := range pods {
		quoted[i] = `"` + p + `"`
	}
	podTerm := `metric.labels.pod = ` + quoted[0]
	if len(pods) > 1 {
		podTerm = `metric.labels.pod = one_of(` + strings.Join(quoted, ",") + `)`
	}
	end := time.Now()
	return url.Values{
		"filter": {podTerm + ` AND metric.type = "` + metric + `" AND resource.labels.cluster = "twin" AND resource.labels.location = "us-central1" AND ` +
			`resource.labels.namespace = "tutorial" AND resource.labels.project_id = "twin-project" AND resource.type = "prometheus_target"`},
		"interval.startTime":           {end.Add(-5 * time.Minute).Format(time.RFC3339)},
		"interval.endTime":             {end.Format(time.RFC3339)},
		"aggregation.perSeriesAligner": {"ALIGN_NEXT_OLDER"},
		"aggregation.alignmentPeriod":  {"300s"},
	}
}

func TestTimeSeriesForTheAdapter(t *testing.T) {
	srv, tokens, _ := fixture(t)
	tok := tokens.Mint(viewer, time.Minute)
	code, out := get(t, srv, tok, "/v3/projects/twin-project/timeSeries", adapterQuery("prometheus.googleapis.com/vllm:num_requests_running/gauge", "p1", "p2"))
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	series, _ := out["timeSeries"].([]any)
	if len(series) != 2 {
		t.Fatalf("want 2 series, got %v", out)
	}
	s0 := series[0].(map[string]any)
	res := s0["resource"].(map[string]any)
	if res["type"] != "prometheus_target" || res["labels"].(map[string]any)["job"] != "gemma-server" {
		t.Errorf("resource: %v", res)
	}
	if m := s0["metric"].(map[string]any)["labels"].(map[string]any); m["pod"] != "p1" || m["model_name"] != "gemma" {
		t.Errorf("metric labels: %v", m)
	}
	pts := s0["points"].([]any)
	if v := pts[0].(map[string]any)["value"].(map[string]any)["doubleValue"]; v != 10.0 {
		t.Errorf("p1's newest point: %v, want 10", v)
	}
}

func TestUpperCaseNamesAreFound(t *testing.T) {
	srv, tokens, _ := fixture(t)
	tok := tokens.Mint(viewer, time.Minute)
	code, out := get(t, srv, tok, "/v3/projects/twin-project/metricDescriptors/prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge", nil)
	if code != 200 || out["metricKind"] != "GAUGE" || out["valueType"] != "DOUBLE" {
		t.Fatalf("%d %v", code, out)
	}
	code, out = get(t, srv, tok, "/v3/projects/twin-project/timeSeries", adapterQuery("prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge", "dcgm-0"))
	if series, _ := out["timeSeries"].([]any); code != 200 || len(series) != 1 {
		t.Fatalf("%d %v", code, out)
	}
	code, out = get(t, srv, tok, "/v3/projects/twin-project/metricDescriptors/prometheus.googleapis.com/dcgm_fi_dev_gpu_util/gauge", nil)
	if code != 404 || out["error"].(map[string]any)["status"] != "NOT_FOUND" {
		t.Fatalf("lower-case name: %d %v", code, out)
	}
}

func TestCounterRate(t *testing.T) {
	srv, tokens, _ := fixture(t)
	q := adapterQuery("prometheus.googleapis.com/vllm:request_success_total/counter", "p1")
	q.Set("aggregation.perSeriesAligner", "ALIGN_RATE")
	q.Set("aggregation.alignmentPeriod", "60s")
	code, out := get(t, srv, tokens.Mint(viewer, time.Minute), "/v3/projects/twin-project/timeSeries", q)
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	s := out["timeSeries"].([]any)[0].(map[string]any)
	v := s["points"].([]any)[0].(map[string]any)["value"].(map[string]any)["doubleValue"].(float64)
	if v < 9.9 || v > 10.1 || s["metricKind"] != "GAUGE" {
		t.Errorf("rate %v (kind %v), want 10/s as GAUGE", v, s["metricKind"])
	}
	q.Set("filter", strings.Replace(q.Get("filter"), "vllm:request_success_total/counter", "vllm:num_requests_running/gauge", 1))
	if code, out := get(t, srv, tokens.Mint(viewer, time.Minute), "/v3/projects/twin-project/timeSeries", q); code != 400 {
		t.Errorf("ALIGN_RATE on a gauge: %d %v", code, out)
	}
}

func TestIdentityIsChecked(t *testing.T) {
	srv, tokens, _ := fixture(t)
	q := adapterQuery("prometheus.googleapis.com/vllm:num_requests_running/gauge", "p1")
	code, out := get(t, srv, "not-a-token", "/v3/projects/twin-project/timeSeries", q)
	if code != 401 || out["error"].(map[string]any)["status"] != "UNAUTHENTICATED" {
		t.Errorf("unknown token: %d %v", code, out)
	}
	nobody := tokens.Mint(googleauth.Principal(1, "twin-project", "custom-metrics", "adapter"), time.Minute)
	code, out = get(t, srv, nobody, "/v3/projects/twin-project/timeSeries", q)
	e := out["error"].(map[string]any)
	errs := e["errors"].([]any)
	if code != 403 || e["status"] != "PERMISSION_DENIED" || errs[0].(map[string]any)["reason"] != "forbidden" ||
		e["message"] != "Permission monitoring.timeSeries.list denied (or the resource may not exist)." {
		t.Errorf("no role: %d %v", code, out)
	}
	// The googleapi client shows it as the adapter logs it.
	granted := tokens.Mint(googleauth.Principal(1, "twin-project", "ns-granted", "adapter"), time.Minute)
	if code, out := get(t, srv, granted, "/v3/projects/twin-project/timeSeries", q); code != 200 {
		t.Errorf("member of a granted principalSet: %d %v", code, out)
	}
	if code, out := get(t, srv, tokens.Mint(viewer, time.Minute), "/v3/projects/other-project/timeSeries", q); code != 403 {
		t.Errorf("another project: %d %v", code, out)
	}
	if code, out := get(t, srv, "", "/v3/projects/twin-project/timeSeries", q); code != 200 {
		t.Errorf("the local user (no token): %d %v", code, out)
	}
}

// The adapter's start-up call: descriptors of k8s_pod/k8s_node resources;
// Managed Prometheus writes prometheus_target only, so the list is empty.
func TestStartupDescriptorList(t *testing.T) {
	srv, tokens, _ := fixture(t)
	tok := tokens.Mint(viewer, time.Minute)
	f := `resource.labels.project_id = "twin-project" AND resource.labels.cluster_name = "twin" AND resource.labels.location = "us-central1" AND resource.type = one_of("k8s_pod","k8s_node","k8s_container")`
	code, out := get(t, srv, tok, "/v3/projects/twin-project/metricDescriptors", url.Values{"filter": {f}})
	if code != 200 || len(out) != 0 {
		t.Errorf("%d %v", code, out)
	}
	code, out = get(t, srv, tok, "/v3/projects/twin-project/metricDescriptors", url.Values{"filter": {`metric.type = starts_with("prometheus.googleapis.com/vllm:")`}})
	if ds, _ := out["metricDescriptors"].([]any); code != 200 || len(ds) != 2 {
		t.Errorf("vllm descriptors: %d %v", code, out)
	}
	nobody := tokens.Mint("serviceAccount:1-compute@developer.gserviceaccount.com", time.Minute)
	if code, out := get(t, srv, nobody, "/v3/projects/twin-project/metricDescriptors", url.Values{"filter": {f}}); code != 403 {
		t.Errorf("node identity: %d %v", code, out)
	}
}

func TestFilterSyntax(t *testing.T) {
	fields := map[string]string{"metric.type": "a/b", "metric.labels.pod": "p-1", "resource.labels.job": "j"}
	for f, want := range map[string]bool{
		`metric.type = "a/b" AND metric.labels.pod = one_of("p-0","p-1")`: true,
		`metric.labels.pod != "p-1"`:                                      false,
		`NOT metric.labels.pod = one_of("x","y")`:                         true,
		`metric.labels.pod = monitoring.regex.full_match("^(p-.*)$")`:     true,
		`metric.labels : pod`:                                             false, // "metric.labels" is no field
		`metric.labels.pod : "p-"`:                                        true,
		`metric.label.pod = "p-1" AND resource.label.job = "j"`:           true,
		`resource.labels.missing = "x"`:                                   false,
		`metric.type = "a/b" AND metric.labels.pod = one_of("p-0","p-2")`: false,
	} {
		p, err := parseFilter(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if got := p.match(fields); got != want {
			t.Errorf("%s: %v, want %v", f, got, want)
		}
	}
	if _, err := parseFilter(`metric.type = "a" OR metric.type = "b"`); err == nil {
		t.Error("OR accepted")
	}
}
