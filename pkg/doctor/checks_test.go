package doctor

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// A user who may not read the adapter's log, pods' /metrics, nor the
// project's IAM policy gets skip lines naming what is missing, not errors.
func TestMissingPermissionsSkip(t *testing.T) {
	w := newWorld(t)
	w.denied["get pods/log custom-metrics"] = true
	w.denied["get pods/proxy default"] = true
	w.fake.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetProjectPolicy, Times: -1, Code: 403, Status: "PERMISSION_DENIED",
		Message: "The caller does not have permission", Permission: "resourcemanager.projects.getIamPolicy"})
	r := w.run()
	if f := fails(r); len(f) != 0 {
		t.Fatalf("fails %v\n%s", f, table(r))
	}
	for id, want := range map[string]string{
		"adapter/log":                "you may not get pods/log in custom-metrics",
		"workload/metrics":           "you may not get pods/proxy in default",
		"identity/monitoring-viewer": "you lack resourcemanager.projects.getIamPolicy on project my-project",
	} {
		if c := find(r, id); c == nil || c.Status != Skip || !strings.Contains(c.Message, want) {
			t.Errorf("%s = %+v, want skip containing %q", id, c, want)
		}
	}
	if c := find(r, "hpa/metric-names"); c == nil || c.Status != OK {
		t.Errorf("the custom metrics API serves the metric, so it exists: %+v", c)
	}
}

// When the apiserver cannot dial the pods (the pod proxy answers 503),
// /metrics is a warning, and a misnamed HPA metric is found through the
// custom metrics API's 404.
func TestUnreachablePodsAndMisnamedMetric(t *testing.T) {
	w := newWorld(t)
	w.scrapeErr = apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	w.set(hpa("prometheus.googleapis.com|vllm:num_requests_runnin|gauge", 3, 0))
	r := w.run()
	if f := fails(r); strings.Join(f, ",") != "hpa/metric-names" {
		t.Fatalf("fails %v\n%s", f, table(r))
	}
	if c := find(r, "hpa/metric-names"); !strings.Contains(c.Message, "unknown to custom.metrics.k8s.io") {
		t.Errorf("metric-names: %+v", c)
	}
	if c := find(r, "workload/metrics"); c.Status != Warn || !strings.Contains(c.Message, "pod proxy") {
		t.Errorf("workload/metrics: %+v", c)
	}
}

// A 403 from Cloud Monitoring on the user's own read is the user's
// permission, not the adapter's.
func TestMonitoring403IsTheUsers(t *testing.T) {
	w := newWorld(t)
	w.seriesE = &gcp.Error{Kind: gcp.KindPermissionDenied, Permission: "monitoring.timeSeries.list"}
	r := w.run()
	c := find(r, "monitoring/vllm:num_requests_running")
	if c == nil || c.Status != Skip || !strings.Contains(c.Message, "your own credentials lack monitoring.timeSeries.list") || !strings.Contains(c.Message, "not the adapter's") {
		t.Fatalf("got %+v", c)
	}
	if f := fails(r); len(f) != 0 {
		t.Errorf("fails %v", f)
	}
}

func TestOldVLLMNamesAndOOM(t *testing.T) {
	w := newWorld(t)
	w.set(hpa("prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge", 0.8, 0.3))
	w.scrape = "vllm:num_requests_running 1\nvllm:gpu_cache_usage_perc 0.3\n"
	p := readyPod("adapter-x", "custom-metrics", "gke-node-1", map[string]string{"k8s-app": adapterName})
	p.Status.ContainerStatuses[0].RestartCount = 2
	p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137,
		FinishedAt: metav1.NewTime(now.Add(-3 * time.Minute))}
	w.set(p)
	r := w.run()
	c := find(r, "hpa/metric-names")
	if c == nil || c.Status != Fail || !strings.Contains(c.Message, "older than 0.9.2 and serves vllm:gpu_cache_usage_perc") {
		t.Errorf("metric-names = %+v", c)
	}
	c = find(r, "adapter/deployment")
	if c == nil || c.Status != Warn || !strings.Contains(c.Message, "OOM-killed") || !strings.Contains(c.Fix, "--limits=memory") {
		t.Errorf("adapter = %+v", c)
	}
	if c := find(r, "workload/metrics"); c == nil || !strings.Contains(strings.Join(c.Evidence, " "), "older than 0.9.2") {
		t.Errorf("workload/metrics = %+v", c)
	}
}

func TestTargetStatusAndDiscoveryHint(t *testing.T) {
	w := newWorld(t)
	pm := podMonitoring("vllm", true, int64(8000), "app", "vllm")
	_ = unstructured.SetNestedSlice(pm.Object, []any{map[string]any{"sampleGroups": []any{map[string]any{"sampleTargets": []any{
		map[string]any{"health": "up", "labels": map[string]any{"instance": "vllm-a:8000"}},
		map[string]any{"health": "down", "lastError": "connection refused", "labels": map[string]any{"instance": "vllm-b:8000"}},
	}}}}}, "status", "endpointStatuses")
	w.setDyn(pm)
	w.setDyn(apiService("v1beta2.custom.metrics.k8s.io", "custom-metrics", adapterName, "False", "FailedDiscoveryCheck"))
	r := w.run()
	if c := find(r, "scraping/targets"); c == nil || c.Status != Fail || !strings.Contains(c.Message, "1 of 2 scrape targets down: vllm-b:8000: connection refused") {
		t.Errorf("targets = %+v", c)
	}
	if c := find(r, "metrics-api/v1beta2.custom.metrics.k8s.io"); c == nil || !strings.Contains(c.Fix, "443 and 10250") {
		t.Errorf("apiservice = %+v", c)
	}
}

// The texts are the real adapter's (adapter.go's klog.Fatalf, googleapi's
// Error(), translator/errors.go).
func TestClassifyAdapterLines(t *testing.T) {
	for line, want := range map[string]string{
		`F1201 19:58:00.000000 1 adapter.go:153] Failed request to stackdriver api: googleapi: Error 403: Permission monitoring.metricDescriptors.list denied (or the resource may not exist)., forbidden`: "fatal",
		`E1201 status.go:71] apiserver received an error that is not an metav1.Status: googleapi: Error 403: Permission monitoring.timeSeries.list denied (or the resource may not exist)., forbidden`:     "403",
		`E1201 x.go:1] the server could not find the metric "prometheus.googleapis.com|x|gauge" for pods`:                                                                                                  "notfound",
		`E1201 x.go:1] googleapi: Error 429: Quota exceeded`: "google",
		`I1201 serving.go:374] Generated self-signed cert`:   "",
	} {
		if got := classifyLine(line); got != want {
			t.Errorf("classifyLine(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestProposalTolerance(t *testing.T) {
	for _, c := range []struct {
		cur        int32
		value, tgt float64
		want       int32
	}{{2, 3.2, 3, 2}, {2, 2.8, 3, 2}, {2, 6, 3, 4}, {3, 1, 3, 1}, {1, 3.31, 3, 2}} {
		if got := Proposal(c.cur, c.value, c.tgt); got != c.want {
			t.Errorf("Proposal(%d, %v, %v) = %d, want %d", c.cur, c.value, c.tgt, got, c.want)
		}
	}
}

func TestParseExposition(t *testing.T) {
	e := parseExposition("# HELP x\nvllm:num_requests_running{a=\"1\",b=\"x y\"} 2\nvllm:num_requests_running{a=\"2\"} 3 1700000000\nbad line\n")
	if e["vllm:num_requests_running"] != 5 {
		t.Errorf("got %v", e)
	}
	if e := parseExposition("<html>not found</html>"); has(e, "vllm:num_requests_running") {
		t.Errorf("an HTML page parsed as %v", e)
	}
}

// Metric failure events are quoted until the HPA reads its metric again.
func TestHPAEventsSinceRecovery(t *testing.T) {
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "HorizontalPodAutoscaler", Name: "vllm"},
		Reason:         "FailedGetPodsMetric", Message: "unable to get metric", Count: 3,
		LastTimestamp: metav1.NewTime(now.Add(-2 * time.Minute))}
	w := newWorld(t)
	w.set(ev)
	if c := find(w.run(), "hpa/events"); c == nil || c.Status != Warn || !strings.Contains(c.Message, "2m0s ago FailedGetPodsMetric (x3)") {
		t.Errorf("recent failure: %+v", c)
	}
	h := hpa(runningMt, 3, 2.5)
	h.Status.Conditions[1].LastTransitionTime = metav1.NewTime(now.Add(-time.Minute))
	w.set(h)
	if c := find(w.run(), "hpa/events"); c == nil || c.Status != OK || !strings.Contains(c.Message, "since the HPA could read its metrics again, 1m0s ago") {
		t.Errorf("after recovery: %+v", c)
	}
}

// A 403 in the adapter's log after the grant is back, while the adapter
// serves every metric, is history: a warning, not a failure.
func TestAdapter403Recovered(t *testing.T) {
	w := newWorld(t)
	w.logs["adapter-x"] = `2026-12-01T19:57:30Z E1201 19:57:30.000000       1 status.go:71] "Unhandled Error" err="googleapi: Error 403: Permission monitoring.timeSeries.list denied (or the resource may not exist)., forbidden"` + "\n"
	r := w.run()
	if c := find(r, "adapter/log"); c == nil || c.Status != Warn || !strings.Contains(c.Message, "recovered") {
		t.Fatalf("adapter/log after recovery: %+v\n%s", c, table(r))
	}
	if got := fails(r); len(got) != 0 {
		t.Fatalf("FAIL %v\n%s", got, table(r))
	}
	w.custom = nil // the API answers nothing: the 403 is current
	r = w.run()
	if c := find(r, "adapter/log"); c == nil || c.Status == OK || strings.Contains(c.Message, "recovered") {
		t.Fatalf("adapter/log while the API fails: %+v\n%s", c, table(r))
	}
}

// A start-up fatal in the previous container of an adapter pod that is
// Ready now is history, even while the API has no value (data stale, say).
func TestAdapterPastFatal(t *testing.T) {
	w := newWorld(t)
	p := readyPod("adapter-x", "custom-metrics", "gke-node-1", map[string]string{"k8s-app": adapterName})
	p.Status.ContainerStatuses[0].RestartCount = 3
	w.set(p)
	w.logs["adapter-x/previous"] = "2026-12-01T19:58:00Z F1201 19:58:00.000000       1 adapter.go:153] Failed request to stackdriver api: googleapi: Error 403: Permission monitoring.metricDescriptors.list denied (or the resource may not exist)., forbidden\n"
	w.custom = nil
	r := w.run()
	if c := find(r, "adapter/log"); c == nil || c.Status != Warn || !strings.Contains(c.Message, "has run Ready since") {
		t.Fatalf("adapter/log: %+v\n%s", c, table(r))
	}
	p.Status.Conditions[0].Status = corev1.ConditionFalse // crash-looping: the fatal is current
	w.set(p)
	if c := find(w.run(), "adapter/log"); c == nil || c.Status == Warn && strings.Contains(c.Message, "Ready since") {
		t.Fatalf("adapter/log of a pod that is not Ready: %+v", c)
	}
}
