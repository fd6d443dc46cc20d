package kustomize

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

// The native path renders exactly an AutoscalingMetric and the HPA: nothing
// of the adapter chain (adapter, APIServices, RBAC, Namespace, KSA,
// PodMonitoring, rules).
func TestNativeRendersOnlyAutoscalingMetricAndHPA(t *testing.T) {
	for name, o := range nativeVariants() {
		objs := renderObjects(t, o)
		var kinds []string
		for _, obj := range objs {
			kinds = append(kinds, obj.GetAPIVersion()+"/"+obj.GetKind())
			if obj.GetNamespace() != o.Namespace {
				t.Errorf("%s: %s/%s in namespace %q, want %q", name, obj.GetKind(), obj.GetName(), obj.GetNamespace(), o.Namespace)
			}
			if obj.GetLabels()[apply.LabelManagedBy] != apply.ManagedBy {
				t.Errorf("%s: %s/%s lacks the managed-by label", name, obj.GetKind(), obj.GetName())
			}
		}
		want := "autoscaling.gke.io/v1beta1/AutoscalingMetric autoscaling/v2/HorizontalPodAutoscaler"
		if got := strings.Join(kinds, " "); got != want {
			t.Errorf("%s renders %s, want %s (in that order)", name, got, want)
		}
	}
}

func hpaOf(t *testing.T, objs []*unstructured.Unstructured, name string) autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	var hpa autoscalingv2.HorizontalPodAutoscaler
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "HorizontalPodAutoscaler", name).Object, &hpa); err != nil {
		t.Fatal(err)
	}
	return hpa
}

// Every HPA metric names, as GKE documents (autoscaling.gke.io|NAME|GAUGE),
// a gauge the AutoscalingMetric exposes, with the target asked for; the
// AutoscalingMetric selects the pods and endpoint of the options.
func TestNativeHPAReferencesTheGauges(t *testing.T) {
	o := nativeVariants()["native-tutorial"]
	objs := renderObjects(t, o)
	am := find(t, objs, "AutoscalingMetric", "vllm-gemma-deployment-vllm")
	pods, _, _ := unstructured.NestedSlice(am.Object, "spec", "metrics")
	if len(pods) != 1 {
		t.Fatalf("AutoscalingMetric has %d metrics entries, want 1 pod entry", len(pods))
	}
	pod := pods[0].(map[string]any)["pod"].(map[string]any)
	sel, _, _ := unstructured.NestedStringMap(pod, "selector", "matchLabels")
	if fmt.Sprint(sel) != "map[app:gemma-server]" {
		t.Errorf("selector %v, want app=gemma-server", sel)
	}
	containers := pod["containers"].([]any)
	c := containers[0].(map[string]any)
	port, _, _ := unstructured.NestedFieldNoCopy(c, "endpoint", "port")
	path, _, _ := unstructured.NestedString(c, "endpoint", "path")
	if port != int64(8081) || path != "/metrics" {
		t.Errorf("endpoint port %#v path %q, want the number 8081 and /metrics", port, path)
	}
	gauges := map[string]string{}
	for _, m := range c["metrics"].([]any) {
		g := m.(map[string]any)["gauge"].(map[string]any)
		gauges[g["name"].(string)] = g["prometheusMetricName"].(string)
	}
	wantGauges := map[string]string{
		"num-requests-running": "vllm:num_requests_running",
		"num-requests-waiting": "vllm:num_requests_waiting",
		"kv-cache-usage-perc":  "vllm:kv_cache_usage_perc",
	}
	if fmt.Sprint(gauges) != fmt.Sprint(wantGauges) {
		t.Errorf("gauges %v, want %v", gauges, wantGauges)
	}
	hpa := hpaOf(t, objs, "vllm-gemma-deployment")
	wantTargets := []string{"6", "3", "700m"}
	if len(hpa.Spec.Metrics) != len(o.Metrics) {
		t.Fatalf("HPA has %d metrics, want %d", len(hpa.Spec.Metrics), len(o.Metrics))
	}
	for i, m := range hpa.Spec.Metrics {
		kind, _ := LookupMetric(o.Metrics[i].Name)
		if m.Type != autoscalingv2.PodsMetricSourceType || m.Pods == nil {
			t.Fatalf("HPA metric %d is %s, want Pods", i, m.Type)
		}
		if want := "autoscaling.gke.io|vllm-gemma-deployment-vllm|" + kind.GaugeName; m.Pods.Metric.Name != want {
			t.Errorf("HPA metric %d named %q, want %q", i, m.Pods.Metric.Name, want)
		}
		if _, ok := gauges[kind.GaugeName]; !ok {
			t.Errorf("HPA metric %d asks for gauge %s, which the AutoscalingMetric does not expose", i, kind.GaugeName)
		}
		if got := m.Pods.Target.AverageValue.String(); got != wantTargets[i] {
			t.Errorf("HPA metric %d target %s, want %s", i, got, wantTargets[i])
		}
	}
	if hpa.Spec.Behavior == nil || hpa.Spec.Behavior.ScaleDown == nil {
		t.Error("the tutorial behavior was not applied on the native path")
	}
}

// The gauge names are what GKE accepts ("Expose custom metrics for
// autoscaling": ^[a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters).
var gkeGaugeNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

func TestNativeGaugeNames(t *testing.T) {
	for _, n := range MetricNames() {
		k, _ := LookupMetric(n)
		if k.NativeComponent == "" {
			continue
		}
		if len(k.GaugeName) > 63 || !gkeGaugeNameRE.MatchString(k.GaugeName) {
			t.Errorf("%s: gauge name %q does not match %s within 63 characters", n, k.GaugeName, gkeGaugeNameRE)
		}
	}
}

func TestNativeRefusals(t *testing.T) {
	base := func(f func(*Options)) Options {
		o := NewOptions()
		o.Deployment, o.Path = "vllm", PathNative
		f(&o)
		return o
	}
	cases := map[string]struct {
		o    Options
		want string
	}{
		"auto on render": {base(func(o *Options) { o.Path = PathAuto }), "--path auto needs a cluster"},
		"unknown path":   {base(func(o *Options) { o.Path = "gke" }), `--path "gke" is not supported: use adapter, native or auto`},
		"gpu-util":       {base(func(o *Options) { o.Metrics = []Metric{{Name: "gpu-util"}} }), "--metric gpu-util is not available on --path native"},
		"named port":     {base(func(o *Options) { o.MetricsPort = "metrics" }), "takes the port number"},
		"dotted label": {base(func(o *Options) { o.PodSelector = map[string]string{"app.kubernetes.io/name": "vllm"} }),
			"--pod-label app.kubernetes.io/name: on --path native GKE accepts selector label names of letters, digits, '-' and '_' only"},
		"bad name": {base(func(o *Options) { o.AutoscalingMetricName = "Bad_Name" }), `--autoscalingmetric-name "Bad_Name" is not a valid AutoscalingMetric name`},
	}
	for name, c := range cases {
		_, err := Render(complete(c.o))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
	// The adapter path keeps accepting what native refuses.
	for _, name := range []string{"gpu-util", "named port", "dotted label"} {
		o := cases[name].o
		o.Path = PathAdapter
		if _, err := Render(complete(o)); err != nil {
			t.Errorf("%s on --path adapter: %v", name, err)
		}
	}
}

// GKE's limits: gauges only, at most 20 unique metrics per cluster.
func TestNativeMetricsSupported(t *testing.T) {
	running, _ := LookupMetric("running")
	if err := NativeMetricsSupported([]MetricKind{running}); err != nil {
		t.Fatalf("one gauge refused: %v", err)
	}
	var many []MetricKind
	for i := 0; i <= NativeMaxMetrics; i++ {
		k := running
		k.GaugeName = fmt.Sprintf("g%d", i)
		many = append(many, k)
	}
	if err := NativeMetricsSupported(many[:NativeMaxMetrics]); err != nil {
		t.Errorf("%d gauges refused: %v", NativeMaxMetrics, err)
	}
	err := NativeMetricsSupported(many)
	if err == nil || !strings.Contains(err.Error(), "21 metrics asked, GKE exposes at most 20 unique metrics per cluster") {
		t.Errorf("21 gauges: %v", err)
	}
	counter := running
	counter.Name, counter.PromName, counter.Type = "requests", "vllm:request_success_total", "counter"
	err = NativeMetricsSupported([]MetricKind{counter})
	if err == nil || !strings.Contains(err.Error(), "vllm:request_success_total is a Prometheus counter, and GKE's AutoscalingMetric takes gauges only") {
		t.Errorf("a counter: %v", err)
	}
}
