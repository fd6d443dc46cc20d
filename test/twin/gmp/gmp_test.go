package gmp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const exposition = `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="gemma",pod="scraped-pod"} 3
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{model_name="gemma"} 120
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{model_name="gemma",le="1"} 2
vllm:e2e_request_latency_seconds_bucket{model_name="gemma",le="+Inf"} 3
vllm:e2e_request_latency_seconds_sum{model_name="gemma"} 4.5
vllm:e2e_request_latency_seconds_count{model_name="gemma"} 3
`

func targetLabels() labels.Labels {
	return labels.FromStrings("project_id", "p", "location", "l", "cluster", "c", "namespace", "default",
		"job", "vllm", "instance", "vllm-0:8081", "pod", "vllm-0", "container", "server")
}

// A scrape is parsed with the real text parser; the scraped pod label loses
// the clash with the target label and becomes exported_pod; metricRelabeling
// runs after the target labels are attached.
func TestScrapeClashAndRelabel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(exposition)) }))
	defer srv.Close()
	samples, err := scrapeOnce(context.Background(), srv.Client(), strings.TrimPrefix(srv.URL, "http://"), "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	keep := "vllm:num_requests_running|vllm:prompt_tokens_total"
	rl, err := relabelConfigs([]relabelRule{
		{Action: "keep", SourceLabels: []string{"__name__"}, Regex: &keep},
		{Action: "replace", SourceLabels: []string{"model_name"}, TargetLabel: "model"},
		{Action: "labeldrop", Regex: ptr("model_name")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]labels.Labels{}
	kinds := map[string]Kind{}
	for _, s := range samples {
		if l, ok := seriesLabels(s, targetLabels(), rl); ok {
			got[l.Get("__name__")] = l
			kinds[l.Get("__name__")] = s.kind
		}
	}
	if len(got) != 2 {
		t.Fatalf("kept %v, want the gauge and the counter only", got)
	}
	run := got["vllm:num_requests_running"]
	if run.Get("pod") != "vllm-0" || run.Get("exported_pod") != "scraped-pod" || run.Get("model") != "gemma" || run.Has("model_name") {
		t.Errorf("gauge labels = %s", run)
	}
	if kinds["vllm:num_requests_running"] != Gauge || kinds["vllm:prompt_tokens_total"] != Counter {
		t.Errorf("kinds = %v", kinds)
	}
	if _, err := relabelConfigs([]relabelRule{{Action: "replace", Regex: ptr("(")}}); err == nil {
		t.Error("a bad regex was accepted")
	}
}

func ptr[T any](v T) *T { return &v }

// Points become visible only after the ingestion delay.
func TestStoreIngestionDelay(t *testing.T) {
	s := NewStore(time.Minute)
	now := time.Now()
	s.now = func() time.Time { return now }
	l := labels.FromStrings("__name__", "g", "pod", "a")
	s.Append(l, Gauge, now.UnixMilli(), 1)
	s.Append(l, Gauge, now.UnixMilli()-1, 2) // out of order: dropped
	m := labels.MustNewMatcher(labels.MatchEqual, "__name__", "g")
	if got := s.Select(now.Add(-time.Hour), now, m); len(got) != 0 {
		t.Fatalf("visible before the delay: %v", got)
	}
	now = now.Add(time.Minute)
	got := s.Select(now.Add(-time.Hour), now, m)
	if len(got) != 1 || len(got[0].Points) != 1 || got[0].Points[0].V != 1 {
		t.Fatalf("after the delay: %v", got)
	}
}

// An outage ages the stored points and drops writes until Resume.
func TestStoreOutage(t *testing.T) {
	s := NewStore(0)
	now := time.Now()
	s.now = func() time.Time { return now }
	l := labels.FromStrings("__name__", "g", "pod", "a")
	m := labels.MustNewMatcher(labels.MatchEqual, "__name__", "g")
	s.Append(l, Gauge, now.UnixMilli(), 1)
	s.Outage(6 * time.Minute)
	s.Append(l, Gauge, now.UnixMilli()+1, 2) // dropped
	got := s.Select(now.Add(-time.Hour), now.Add(time.Minute), m)
	if len(got) != 1 || len(got[0].Points) != 1 || !got[0].Points[0].T.Equal(time.UnixMilli(now.UnixMilli()).Add(-6*time.Minute)) {
		t.Fatalf("during the outage: %v", got)
	}
	s.Resume()
	s.Append(l, Gauge, now.UnixMilli()+2, 3)
	if got := s.Select(now.Add(-time.Hour), now.Add(time.Minute), m); len(got[0].Points) != 2 || got[0].Points[1].V != 3 {
		t.Fatalf("after Resume: %v", got)
	}
}

// A Rules object's selectors are confined to its namespace and its results
// carry the scope labels; a ClusterRules object's are confined to the cluster.
func TestRuleScopes(t *testing.T) {
	c := &Collector{Store: NewStore(0), opts: Options{Project: "p", Location: "l", Cluster: "c"}}
	now := time.Now()
	for _, ns := range []string{"gke-managed-system", "default"} {
		c.Store.Append(labels.FromStrings("__name__", "DCGM_FI_DEV_GPU_UTIL", "project_id", "p", "location", "l", "cluster", "c",
			"namespace", ns, "pod", "exporter", "exported_namespace", "default", "exported_pod", "vllm-0"), Gauge, now.UnixMilli(), 80)
	}
	spec := map[string]any{"groups": []any{map[string]any{"name": "g", "interval": "1s", "rules": []any{
		map[string]any{"record": "dcgm_fi_dev_gpu_util", "expr": "sum by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL)"}}}}}
	rules := &unstructured.Unstructured{Object: map[string]any{"kind": "Rules", "metadata": map[string]any{"name": "r", "namespace": "default"}, "spec": spec}}
	groups, err := c.ruleGroups(rules, false)
	if err != nil {
		t.Fatal(err)
	}
	if e := groups[0].rules[0].expr; !strings.Contains(e, `namespace="default"`) || !strings.Contains(e, `cluster="c"`) {
		t.Errorf("namespaced expr not scoped: %s", e)
	}
	cr := rules.DeepCopy()
	cr.SetKind("ClusterRules")
	cr.SetNamespace("")
	cgroups, err := c.ruleGroups(cr, true)
	if err != nil {
		t.Fatal(err)
	}
	if e := cgroups[0].rules[0].expr; strings.Contains(e, "namespace=") || !strings.Contains(e, `project_id="p"`) {
		t.Errorf("cluster expr scoped wrongly: %s", e)
	}
	engine := newEngine()
	if err := c.evalRule(context.Background(), engine, cgroups[0].rules[0], now); err != nil {
		t.Fatal(err)
	}
	got := c.Store.Select(now.Add(-time.Minute), now, labels.MustNewMatcher(labels.MatchEqual, "__name__", "dcgm_fi_dev_gpu_util"))
	if len(got) != 2 {
		t.Fatalf("ClusterRules results = %v, want one per namespace", got)
	}
	for _, sr := range got {
		if sr.Labels.Get("cluster") != "c" || sr.Labels.Get("project_id") != "p" || sr.Points[0].V != 80 {
			t.Errorf("result %v", sr)
		}
	}
}
