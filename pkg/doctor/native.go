package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
)

// The GKE-native path: GKE's managed metrics adapter reads the gauges an
// AutoscalingMetric names from the pods' Prometheus endpoint and serves them
// to the HPA as autoscaling.gke.io|OBJECT|GAUGE. No PodMonitoring, Cloud
// Monitoring, Google identity or adapter of ours is in that chain.
const (
	nativePrefix = "autoscaling.gke.io"
	// NativeReason is why doctor (and watch) have no adapter to look at on
	// the native path.
	NativeReason = "native path (AutoscalingMetric): GKE's managed metrics adapter serves the metrics; no Stackdriver adapter, Managed Prometheus scrape, Cloud Monitoring read or Google identity is in the chain"
)

var autoscalingMetricGVR = schema.GroupVersionResource{Group: "autoscaling.gke.io", Version: "v1beta1", Resource: "autoscalingmetrics"}

// parseNative reads autoscaling.gke.io|OBJECT|GAUGE.
func parseNative(name string) (object, gauge string, ok bool) {
	parts := strings.Split(name, "|")
	if len(parts) != 3 || parts[0] != nativePrefix || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// IsNativeMetric says whether an HPA metric name is one GKE's managed
// metrics adapter serves for an AutoscalingMetric.
func IsNativeMetric(name string) bool {
	_, _, ok := parseNative(name)
	return ok
}

// nativeGauge is one gauge of an AutoscalingMetric.
type nativeGauge struct {
	prom     string
	port     int64
	path     string
	selector map[string]string
}

// nativeObject is an AutoscalingMetric as read (obj nil: err says why).
type nativeObject struct {
	obj    *unstructured.Unstructured
	err    error
	gauges map[string]nativeGauge
}

// readNative reads the AutoscalingMetrics the HPA's metrics name and fills
// in each metric's Prometheus name from its gauge.
func (s *state) readNative(ctx context.Context) {
	s.nativeObjs = map[string]*nativeObject{}
	for i := range s.metrics {
		m := &s.metrics[i]
		obj, gauge, ok := parseNative(m.Name)
		if !ok {
			continue
		}
		m.Type = "" // not a Cloud Monitoring metric
		no := s.nativeObjs[obj]
		if no == nil {
			no = &nativeObject{gauges: map[string]nativeGauge{}}
			no.obj, no.err = s.env.Dynamic.Resource(autoscalingMetricGVR).Namespace(s.in.Namespace).Get(ctx, obj, metav1.GetOptions{})
			if no.err == nil {
				no.gauges = gaugesOf(no.obj)
			}
			s.nativeObjs[obj] = no
		}
		if g, found := no.gauges[gauge]; found {
			m.Prom = g.prom
		}
	}
}

func gaugesOf(u *unstructured.Unstructured) map[string]nativeGauge {
	out := map[string]nativeGauge{}
	metrics, _, _ := unstructured.NestedSlice(u.Object, "spec", "metrics")
	for _, mm := range metrics {
		pod, _, _ := unstructured.NestedMap(asMap(mm), "pod")
		sel, _, _ := unstructured.NestedStringMap(pod, "selector", "matchLabels")
		containers, _, _ := unstructured.NestedSlice(pod, "containers")
		for _, c := range containers {
			port, _, _ := unstructured.NestedInt64(asMap(c), "endpoint", "port")
			path, _, _ := unstructured.NestedString(asMap(c), "endpoint", "path")
			if path == "" {
				path = "/metrics"
			}
			gs, _, _ := unstructured.NestedSlice(asMap(c), "metrics")
			for _, g := range gs {
				name, _, _ := unstructured.NestedString(asMap(g), "gauge", "name")
				prom, _, _ := unstructured.NestedString(asMap(g), "gauge", "prometheusMetricName")
				out[name] = nativeGauge{prom: prom, port: port, path: path, selector: sel}
			}
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// checkNative checks each AutoscalingMetric the HPA uses: it exists, it
// declares the HPA's gauges, it selects the Deployment's pods on the port
// vLLM serves, and what GKE reports in its status.
func checkNative(ctx context.Context, s *state) []Check {
	if !s.native {
		return nil
	}
	names := make([]string, 0, len(s.nativeObjs))
	for n := range s.nativeObjs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Check
	for _, n := range names {
		out = append(out, s.checkNativeObject(ctx, n, s.nativeObjs[n]))
	}
	return out
}

func (s *state) checkNativeObject(_ context.Context, name string, no *nativeObject) Check {
	id := "native/" + name
	ns := s.in.Namespace
	fix := fmt.Sprintf("rerun `kubectl infer-hpa setup %s -n %s --path native`", orDeployment(s.deployName), ns)
	switch {
	case apierrors.IsNotFound(no.err):
		return fail(LinkNative, id, fix, "AutoscalingMetric %s/%s does not exist: nothing tells GKE which gauges to serve", ns, name)
	case no.err != nil:
		return readErr(LinkNative, id, perm{verb: "get", group: "autoscaling.gke.io", resource: "autoscalingmetrics", namespace: ns}, no.err)
	}
	var problems, evidence []string
	podLabels := s.podLabels()
	for _, m := range s.metrics {
		obj, gauge, ok := parseNative(m.Name)
		if !ok || obj != name {
			continue
		}
		g, found := no.gauges[gauge]
		if !found {
			problems = append(problems, fmt.Sprintf("the HPA's metric %s names gauge %q, which AutoscalingMetric %s does not declare", m.Name, gauge, name))
			continue
		}
		evidence = append(evidence, fmt.Sprintf("%s ← %s on port %d%s", gauge, g.prom, g.port, g.path))
		if podLabels != nil && !labels.SelectorFromSet(g.selector).Matches(podLabels) {
			problems = append(problems, fmt.Sprintf("gauge %s selects pods %s, not the pods of deployment %s (%s)", gauge, labels.Set(g.selector), s.deployName, podLabels))
		}
		if ports := s.statedPorts(); s.deploy != nil && !ports[int32(g.port)] {
			problems = append(problems, fmt.Sprintf("gauge %s is read on port %d, which deployment %s neither declares nor passes to vLLM as --port (%s)", gauge, g.port, s.deployName, portList(ports)))
		}
	}
	status := nativeStatus(no.obj)
	if len(problems) > 0 {
		return fail(LinkNative, id, fix, "AutoscalingMetric %s: %s", name, problems[0]).with(append(problems[1:], evidence...)...)
	}
	if bad := status.failing(); bad != "" {
		return fail(LinkNative, id, fmt.Sprintf("`kubectl -n %s get autoscalingmetric %s -o yaml` shows GKE's full status; check the cluster's version and HPA profile: %s", ns, name, discover.HPAProfileFix),
			"AutoscalingMetric %s: GKE reports %s", name, bad).with(evidence...)
	}
	return ok(LinkNative, id, "AutoscalingMetric %s declares %s; %s", name, plural(len(evidence), "gauge the HPA uses"), status.summary()).with(evidence...)
}

// statedPorts are the ports the Deployment says vLLM serves on: its --port
// and its containers' declared ports, else vLLM's default 8000.
func (s *state) statedPorts() map[int32]bool {
	out := map[int32]bool{}
	if s.deploy == nil {
		return out
	}
	spec := &s.deploy.Spec.Template.Spec
	for _, c := range spec.Containers {
		if p, ok := discover.PortArg(append(append([]string{}, c.Command...), c.Args...)); ok {
			out[p] = true
		}
		for _, cp := range c.Ports {
			out[cp.ContainerPort] = true
		}
	}
	if len(out) == 0 {
		out[discover.DefaultVLLMPort] = true
	}
	return out
}

func portList(ports map[int32]bool) string {
	var ps []int
	for p := range ports {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprint(p)
	}
	return "it serves on " + strings.Join(parts, " or ")
}

// nativePort is the port GKE reads the HPA's first native gauge on (0: none).
func (s *state) nativePort() int32 {
	for _, m := range s.metrics {
		if obj, gauge, ok := parseNative(m.Name); ok {
			if no := s.nativeObjs[obj]; no != nil {
				if g, found := no.gauges[gauge]; found && g.port > 0 {
					return int32(g.port)
				}
			}
		}
	}
	return 0
}

func orDeployment(name string) string {
	if name == "" {
		return "DEPLOYMENT"
	}
	return name
}

// autoscalingMetricStatus is what GKE reports on the object. GKE does not
// document it: doctor reads standard conditions when there are any and
// quotes the rest.
type autoscalingMetricStatus struct {
	present    bool
	conditions []map[string]any
}

func nativeStatus(u *unstructured.Unstructured) autoscalingMetricStatus {
	st, found, _ := unstructured.NestedMap(u.Object, "status")
	out := autoscalingMetricStatus{present: found && len(st) > 0}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m := asMap(c); m != nil {
			out.conditions = append(out.conditions, m)
		}
	}
	return out
}

// failing names a condition that says the object does not work: a
// Ready/Available/Active-like condition that is not True, or an Error-like
// one that is.
func (a autoscalingMetricStatus) failing() string {
	for _, c := range a.conditions {
		t, _ := c["type"].(string)
		st, _ := c["status"].(string)
		reason, _ := c["reason"].(string)
		msg, _ := c["message"].(string)
		lt := strings.ToLower(t)
		bad := (st != "True" && (strings.Contains(lt, "ready") || strings.Contains(lt, "available") || strings.Contains(lt, "active") || strings.Contains(lt, "valid"))) ||
			(st == "True" && (strings.Contains(lt, "error") || strings.Contains(lt, "fail") || strings.Contains(lt, "degraded")))
		if bad {
			return strings.TrimSpace(fmt.Sprintf("%s=%s %s %s", t, st, reason, trim(msg, 200)))
		}
	}
	return ""
}

func (a autoscalingMetricStatus) summary() string {
	if !a.present {
		return "GKE reports no status on it"
	}
	if len(a.conditions) == 0 {
		return "GKE reports a status without conditions"
	}
	var parts []string
	for _, c := range a.conditions {
		parts = append(parts, fmt.Sprintf("%v=%v", c["type"], c["status"]))
	}
	return "GKE reports " + strings.Join(parts, ", ")
}

// nativeSkips are the adapter path's links, each skipped once with why.
func nativeSkips() []Check {
	return []Check{
		skip(LinkScraping, "scraping/podmonitoring", "native path: GKE reads the pods' /metrics itself (AutoscalingMetric); no PodMonitoring is needed"),
		skip(LinkMonitoring, "monitoring/series", "native path: the metrics do not go through Cloud Monitoring"),
		skip(LinkIdentity, "identity/mode", "native path: no Google identity or IAM grant is in the chain"),
		skip(LinkAdapter, "adapter/deployment", "native path: no Stackdriver adapter; GKE's managed metrics adapter serves custom.metrics.k8s.io"),
	}
}
