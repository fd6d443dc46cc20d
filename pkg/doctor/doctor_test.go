package doctor

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
)

func TestHealthyChain(t *testing.T) {
	r := newWorld(t).run()
	if f := fails(r); len(f) != 0 || r.Count(Warn) != 0 {
		t.Fatalf("healthy chain: fails %v, %d warnings\n%s", f, r.Count(Warn), table(r))
	}
	for _, id := range []string{"workload/deployment", "workload/metrics", "scraping/podmonitoring", "scraping/double-count",
		"monitoring/vllm:num_requests_running", "identity/workload-identity", "identity/adapter-node", "identity/monitoring-viewer",
		"adapter/deployment", "adapter/log", "metrics-api/v1beta1.custom.metrics.k8s.io", "metrics-api/vllm:num_requests_running",
		"hpa/target", "hpa/conditions", "hpa/metric-names", "hpa/events", "hpa/decision"} {
		if c := find(r, id); c == nil || c.Status != OK {
			t.Errorf("%s: %+v\n%s", id, c, table(r))
		}
	}
	if c := find(r, "scraping/targets"); c == nil || c.Status != Skip || !strings.Contains(c.Message, "targetStatus") {
		t.Errorf("target status off should say how to turn it on: %+v", c)
	}
	t.Log("\n" + table(r))
	if !strings.HasPrefix(r.Verdict(), "doctor: no failures") {
		t.Errorf("verdict %q", r.Verdict())
	}
	if c := find(r, "hpa/decision"); c == nil || !strings.Contains(c.Message, "within") && !strings.Contains(c.Message, "stays at 2") {
		t.Errorf("decision: %+v", c)
	}
}

// Each break of one link makes doctor name exactly that link's check as
// FAIL; what follows from it downstream is a warning naming the cause.
func TestBreaksNameTheLink(t *testing.T) {
	crashLoop := func(w *world) {
		w.set(adapterDeployment(1, 0))
		p := readyPod("adapter-x", "custom-metrics", "gke-node-1", map[string]string{"k8s-app": adapterName})
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 4,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 255}}}}
		w.set(p)
		w.logs["adapter-x"] = ""
		w.logs["adapter-x/previous"] = "2026-12-01T19:58:00Z F1201 19:58:00.000000       1 adapter.go:153] Failed request to stackdriver api: googleapi: Error 403: Permission monitoring.metricDescriptors.list denied (or the resource may not exist)., forbidden\n"
		for _, n := range customAPIServices {
			w.setDyn(apiService(n, "custom-metrics", adapterName, "False", "MissingEndpoints"))
		}
		w.custom = nil
	}
	gsa := func(w *world) *world {
		cfg := identity.Config{Mode: identity.ModeGSA, ProjectID: project}.WithDefaults()
		c, err := gcp.NewClient(context.Background(), gcp.Options{IAMEndpoint: w.iamURL, CRMEndpoint: w.iamURL})
		if err != nil {
			t.Fatal(err)
		}
		c.Wait.Sleep = func(context.Context, time.Duration) error { return nil }
		if _, err := c.Ensure(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		w.set(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "infer-hpa-vllm", Namespace: ns, Annotations: map[string]string{
			apply.AnnotationTooling: apply.Tooling, plan.AnnotationWIMode: "gsa", plan.AnnotationProject: project, plan.AnnotationGSAName: cfg.GSAName}}})
		w.set(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: identity.DefaultKSA, Namespace: "custom-metrics",
			Annotations: map[string]string{identity.KSAAnnotation: cfg.GSAEmail()}}})
		return w
	}
	cases := []struct {
		name   string
		break_ func(w *world)
		want   []string
		fix    string
	}{
		{"wrong metrics port in the PodMonitoring", func(w *world) {
			w.setDyn(podMonitoring("vllm", true, int64(8081), "app", "vllm"))
		}, []string{"scraping/podmonitoring"}, "--metrics-port 8000"},
		{"a second PodMonitoring on the same pods", func(w *world) {
			w.setDyn(podMonitoring("team-scrape", false, int64(8000), "app", "vllm"))
			s := w.series["prometheus.googleapis.com/vllm:num_requests_running/gauge"]
			w.series["prometheus.googleapis.com/vllm:num_requests_running/gauge"] = append(s, s...)
			w.custom[runningMt] = map[string]float64{"vllm-a": 5, "vllm-b": 5}
		}, []string{"scraping/double-count"}, "delete podmonitoring/team-scrape"},
		{"the monitoring role revoked (adapter crash-loops)", func(w *world) {
			w.fake.SetProjectPolicy(project, nil)
			crashLoop(w)
		}, []string{"identity/monitoring-viewer"}, "gcloud projects add-iam-policy-binding my-project --role roles/monitoring.viewer"},
		{"gsa mode, the KSA annotation removed", func(w *world) {
			gsa(w)
			w.set(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: identity.DefaultKSA, Namespace: "custom-metrics"}})
			w.logs["adapter-x"] = `2026-12-01T19:59:30Z E1201 19:59:30.000000       1 status.go:71] "Unhandled Error" err="apiserver received an error that is not an metav1.Status: &googleapi.Error{Code:403}: googleapi: Error 403: Permission monitoring.timeSeries.list denied (or the resource may not exist)., forbidden"` + "\n"
		}, []string{"identity/ksa-annotation"}, "annotate serviceaccount custom-metrics-stackdriver-adapter iam.gke.io/gcp-service-account=metrics-adapter-gsa@my-project.iam.gserviceaccount.com"},
		{"gsa mode, the workloadIdentityUser binding removed", func(w *world) {
			gsa(w)
			email := identity.Config{ProjectID: project}.WithDefaults().GSAEmail()
			postJSON(t, w.iamURL+"v1/projects/"+project+"/serviceAccounts/"+email+":setIamPolicy", `{"policy":{"bindings":[]}}`)
		}, []string{"identity/workload-identity-user"}, "add-iam-policy-binding metrics-adapter-gsa@my-project.iam.gserviceaccount.com --role roles/iam.workloadIdentityUser"},
		{"another adapter owns the APIServices", func(w *world) {
			for _, n := range customAPIServices {
				w.setDyn(apiService(n, "monitoring", "prometheus-adapter", "True", ""))
			}
		}, []string{"metrics-api/v1beta1.custom.metrics.k8s.io", "metrics-api/v1beta2.custom.metrics.k8s.io"}, "--force-conflicts"},
		{"the adapter scaled to 0", func(w *world) {
			w.set(adapterDeployment(0, 0))
			w.objs = without(w.objs, "adapter-x")
			for _, n := range customAPIServices {
				w.setDyn(apiService(n, "custom-metrics", adapterName, "False", "MissingEndpoints"))
			}
			w.custom = nil
		}, []string{"adapter/deployment"}, "--replicas=1"},
		{"the HPA's metric renamed to one that does not exist", func(w *world) {
			h := hpa("prometheus.googleapis.com|vllm:num_requests_runnin|gauge", 3, 0)
			h.Status.CurrentMetrics = nil
			h.Status.Conditions[1] = autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse,
				Reason: "FailedGetPodsMetric", Message: `the HPA was unable to compute the replica count: unable to get metric prometheus.googleapis.com|vllm:num_requests_runnin|gauge: the server could not find the descriptor for metric`}
			w.set(h)
		}, []string{"hpa/metric-names"}, "rerun `kubectl infer-hpa setup vllm -n default`"},
		{"the vLLM pods not Ready", func(w *world) {
			for _, n := range []string{"vllm-a", "vllm-b"} {
				p := readyPod(n, ns, "gke-gpu-1", map[string]string{"app": "vllm"})
				p.Status.Conditions[0].Status = corev1.ConditionFalse
				p.Status.ContainerStatuses[0].Ready = false
				w.set(p)
			}
		}, []string{"workload/deployment"}, "describe pod vllm-a"},
		{"no data in Cloud Monitoring for 6 minutes", func(w *world) {
			for _, s := range w.series {
				for i := range s {
					s[i].Points[0].Time = now.Add(-6 * time.Minute)
				}
			}
			w.custom = nil
		}, []string{"monitoring/vllm:num_requests_running"}, "the adapter only reads the last 5 minutes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.break_(w)
			r := w.run()
			got := fails(r)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("FAIL checks %v, want %v\n%s", got, tc.want, table(r))
			}
			if c := find(r, tc.want[0]); !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("fix of %s = %q, want it to contain %q", c.ID, c.Fix, tc.fix)
			}
			if !strings.Contains(r.Verdict(), "— "+find(r, tc.want[0]).Link+":") {
				t.Errorf("verdict %q does not name link %s", r.Verdict(), find(r, tc.want[0]).Link)
			}
		})
	}
}

func without(objs []runtime.Object, name string) []runtime.Object {
	var out []runtime.Object
	for _, o := range objs {
		if m, _ := metaOf(o); m.GetName() != name {
			out = append(out, o)
		}
	}
	return out
}

func postJSON(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
