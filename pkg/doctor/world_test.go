package doctor

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

const (
	ns        = "default"
	project   = "my-project"
	number    = int64(123456789012)
	runningMt = "prometheus.googleapis.com|vllm:num_requests_running|gauge"
)

var now = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)

// world is a small healthy chain made of fakes: client-go's fake
// clientset and dynamic client, a loopback gcpfake for IAM, and in-memory
// /metrics, Cloud Monitoring, custom metrics and logs. Tests break one
// link of it.
type world struct {
	t       *testing.T
	objs    []runtime.Object
	dyn     []runtime.Object
	denied  map[string]bool // "verb resource[/sub] ns" the user may not
	scrape  string
	series  map[string][]gcp.Series
	custom  map[string]map[string]float64
	logs    map[string]string // "pod" or "pod/previous" → log text
	fake    *gcpfake.Server
	iamURL  string
	seriesE error
	// scrapeErr is the pod proxy's answer instead of scrape.
	scrapeErr error
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, denied: map[string]bool{}, logs: map[string]string{}}
	w.fake = gcpfake.New()
	w.fake.AddProject(project, number)
	srv := httptest.NewServer(w.fake)
	t.Cleanup(srv.Close)
	w.iamURL = srv.URL + "/"
	principal := identity.Config{Mode: identity.ModePrincipal, ProjectID: project, ProjectNumber: number}.WithDefaults().PrincipalMember()
	w.fake.SetProjectPolicy(project, []gcpfake.Binding{{Role: gcp.RoleMonitoringViewer, Members: []string{principal}}})

	w.objs = []runtime.Object{
		vllmDeployment(), readyPod("vllm-a", ns, "gke-gpu-1", map[string]string{"app": "vllm"}),
		readyPod("vllm-b", ns, "gke-gpu-1", map[string]string{"app": "vllm"}),
		hpa(runningMt, 3, 2.5),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "infer-hpa-vllm", Namespace: ns, Annotations: map[string]string{
			apply.AnnotationTooling: apply.Tooling, plan.AnnotationWIMode: "principal", plan.AnnotationProject: project}}},
		adapterDeployment(1, 1),
		readyPod("adapter-x", "custom-metrics", "gke-node-1", map[string]string{"k8s-app": adapterName}),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: identity.DefaultKSA, Namespace: "custom-metrics"}},
		node("gke-node-1"), node("gke-gpu-1"),
	}
	w.dyn = []runtime.Object{
		podMonitoring("vllm", true, int64(8000), "app", "vllm"),
		apiService("v1beta1.custom.metrics.k8s.io", "custom-metrics", adapterName, "True", ""),
		apiService("v1beta2.custom.metrics.k8s.io", "custom-metrics", adapterName, "True", ""),
	}
	w.scrape = "# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\n" +
		`vllm:num_requests_running{model_name="gemma"} 2.5` + "\nvllm:num_requests_waiting{model_name=\"gemma\"} 0\nvllm:kv_cache_usage_perc 0.3\n"
	w.series = map[string][]gcp.Series{
		"prometheus.googleapis.com/vllm:num_requests_running/gauge": {
			{Pod: "vllm-a", Points: []gcp.Point{{Time: now.Add(-30 * time.Second), Value: 2.5}}},
			{Pod: "vllm-b", Points: []gcp.Point{{Time: now.Add(-40 * time.Second), Value: 2.5}}},
		},
	}
	w.custom = map[string]map[string]float64{runningMt: {"vllm-a": 2.5, "vllm-b": 2.5}}
	w.logs["adapter-x"] = "2026-12-01T19:50:00Z I1201 19:50:00.000000       1 serving.go:374] Generated self-signed cert\n"
	return w
}

func vllmDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "vllm", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "vllm"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "vllm"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "vllm", Image: "vllm/vllm-openai:v0.11.0",
					Args: []string{"--model=google/gemma-3-1b-it"}}}},
			},
		},
	}
}

func readyPod(name, namespace, nodeName string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: nodeName},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true}}},
	}
}

func hpa(metric string, target, current float64) *autoscalingv2.HorizontalPodAutoscaler {
	min := int32(1)
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "vllm", Namespace: ns, Labels: map[string]string{apply.LabelManagedBy: apply.ManagedBy}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "vllm"},
			MinReplicas:    &min, MaxReplicas: 5,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: metric},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty(target)}}}},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 2,
			CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
				Metric: autoscalingv2.MetricIdentifier{Name: metric}, Current: autoscalingv2.MetricValueStatus{AverageValue: qty(current)}}}},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"},
				{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound"},
			}},
	}
}

func qty(v float64) *resource.Quantity {
	q := resource.MustParse(fmt.Sprintf("%dm", int64(v*1000)))
	return &q
}

func adapterDeployment(replicas, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: adapterName, Namespace: "custom-metrics"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "adapter", Image: kustomize.DefaultAdapterImage}}}}},
		Status: appsv1.DeploymentStatus{Replicas: replicas, ReadyReplicas: ready},
	}
}

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{metadataServerLabel: "true"}},
		Spec: corev1.NodeSpec{ProviderID: "gce://" + project + "/us-central1-a/" + name}}
}

func podMonitoring(name string, ours bool, port any, key, value string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"selector":  map[string]any{"matchLabels": map[string]any{key: value}},
			"endpoints": []any{map[string]any{"port": port, "path": "/metrics", "interval": "15s"}},
		},
	}}
	if ours {
		u.SetLabels(map[string]string{apply.LabelManagedBy: apply.ManagedBy})
	}
	return u
}

func apiService(name, svcNS, svcName, available, reason string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"service": map[string]any{"namespace": svcNS, "name": svcName}},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": available, "reason": reason,
			"message": "failing or missing response from https://10.0.0.1:443"}}},
	}}
}

// set replaces the object of the same kind and name.
func (w *world) set(o runtime.Object) {
	key := func(o runtime.Object) string {
		m, _ := metaOf(o)
		return fmt.Sprintf("%T/%s/%s", o, m.GetNamespace(), m.GetName())
	}
	for i, have := range w.objs {
		if key(have) == key(o) {
			w.objs[i] = o
			return
		}
	}
	w.objs = append(w.objs, o)
}

func (w *world) setDyn(u *unstructured.Unstructured) {
	for i, have := range w.dyn {
		h := have.(*unstructured.Unstructured)
		if h.GetKind() == u.GetKind() && h.GetName() == u.GetName() && h.GetNamespace() == u.GetNamespace() {
			w.dyn[i] = u
			return
		}
	}
	w.dyn = append(w.dyn, u)
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	a, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return a, nil
}

func (w *world) env() Env {
	kube := fake.NewClientset(w.objs...)
	kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview)
		ra := r.Spec.ResourceAttributes
		res := ra.Resource
		if ra.Subresource != "" {
			res += "/" + ra.Subresource
		}
		r.Status.Allowed = !w.denied[strings.TrimSpace(ra.Verb+" "+res+" "+ra.Namespace)]
		return true, r, nil
	})
	scheme := runtime.NewScheme()
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
		podMonitoringGVR: "PodMonitoringList", clusterPodMonitoringGVR: "ClusterPodMonitoringList", apiServiceGVR: "APIServiceList",
		autoscalingMetricGVR: "AutoscalingMetricList",
	}, w.dyn...)
	client, err := gcp.NewClient(context.Background(), gcp.Options{IAMEndpoint: w.iamURL, CRMEndpoint: w.iamURL})
	if err != nil {
		w.t.Fatal(err)
	}
	client.Retry.Budget = time.Millisecond
	return Env{
		Kube: kube, Dynamic: dyn,
		Scraper:    fakeScraper{w.scrape, w.scrapeErr},
		Custom:     fakeCustom(w.custom),
		Monitoring: fakeSeries{w.series, w.seriesE},
		IAM:        client,
		Logs:       fakeLogs(w.logs),
		Now:        func() time.Time { return now },
	}
}

func (w *world) run() *Report {
	w.t.Helper()
	r, err := Run(context.Background(), w.env(), Input{Namespace: ns, Name: "vllm", AdapterImage: kustomize.DefaultAdapterImage})
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

type fakeScraper struct {
	text string
	err  error
}

func (f fakeScraper) Scrape(context.Context, string, string, int32, string) (string, error) {
	return f.text, f.err
}

type fakeCustom map[string]map[string]float64

func (f fakeCustom) PodValues(_ context.Context, _, metric, _ string) (map[string]float64, error) {
	v, ok := f[metric]
	if !ok {
		return nil, fmt.Errorf("404: metric %s not found by the custom metrics API", metric)
	}
	return v, nil
}

type fakeSeries struct {
	m   map[string][]gcp.Series
	err error
}

func (f fakeSeries) PodSeries(_ context.Context, _, metricType, _ string, _ []string, _, _ time.Time) ([]gcp.Series, error) {
	return f.m[metricType], f.err
}

type fakeLogs map[string]string

func (f fakeLogs) Logs(_ context.Context, _, pod string, opts *corev1.PodLogOptions) (string, error) {
	if opts.Previous {
		pod += "/previous"
	}
	return f[pod], nil
}

// fails lists the ids of the FAIL checks.
func fails(r *Report) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.ID)
		}
	}
	return out
}

func find(r *Report, id string) *Check {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

func table(r *Report) string {
	var b strings.Builder
	r.Print(&b, false)
	return b.String()
}

var _ http.Handler = (*gcpfake.Server)(nil)
