package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

const (
	runningMetric = "prometheus.googleapis.com|vllm:num_requests_running|gauge"
	vllmName      = "vllm-gemma-deployment"
)

// TestSetupEndToEnd is the tutorial on the twin: setup, the chain works
// (simulated vLLM → Managed Prometheus → Cloud Monitoring → the real
// adapter → the HPA controller) and scales the Deployment under load,
// reruns change nothing, a changed option prunes, cleanup leaves nothing
// of ours and nothing else touched. The role is granted out of band
// (TestMain), as --skip-iam expects.
func TestSetupEndToEnd(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-tutorial")
	vllmDeployment(t, ns, vllmName, "gemma-server", 8081, true)
	vllmService(t, ns, "llm-service", "gemma-server", 8081)
	bystander, err := cluster.kube.CoreV1().ConfigMaps(ns).Create(context.Background(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"-n", ns, "--metric", "running=4", "--behavior", "tutorial", "--scrape-interval", "5s"}
	args := append([]string{"setup", "--skip-iam", "--timeout", "90s"}, base...)
	gpuBase := append(append([]string{}, base...), "--metric", "gpu-util=60")

	t.Run("setup", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, args...)
		if r.code != 0 {
			t.Fatalf("setup failed: %s", r)
		}
		mustContain(t, "stderr", r.stderr,
			"discovered: deployment e2e-tutorial/vllm-gemma-deployment (the only Deployment running vLLM in the namespace)",
			"discovered: pods app=gemma-server", "discovered: metrics on port 8081/metrics",
			"discovered: GKE project twin-project, location us-central1, cluster twin",
			"[ok  ] APIService v1beta1.custom.metrics.k8s.io: free", "[ok  ] permissions")
		mustContain(t, "stdout", r.stdout,
			"namespace/custom-metrics created", "deployment.apps/custom-metrics-stackdriver-adapter created",
			"apiservice.apiregistration.k8s.io/v1beta2.custom.metrics.k8s.io created",
			"podmonitoring.monitoring.googleapis.com/vllm-gemma-deployment-vllm created",
			"horizontalpodautoscaler.autoscaling/vllm-gemma-deployment created",
			"the metrics APIs are Available", "setup complete:")
		ctx := ctxFor(t, 10*time.Second)
		for _, name := range metricAPIs {
			u, err := get(ctx, apiServiceGVR, "", name)
			if err != nil {
				t.Fatal(err)
			}
			if st, reason, msg := condition(u, "Available"); st != "True" {
				t.Errorf("APIService %s Available=%s %s %s", name, st, reason, msg)
			}
		}
		pm, err := get(ctx, podMonGVR, ns, vllmName+"-vllm")
		if err != nil {
			t.Fatalf("PodMonitoring not accepted by the real CRD: %v", err)
		}
		eps := fmt.Sprint(pm.Object["spec"])
		mustContain(t, "PodMonitoring spec", eps, "port:8081", "app:gemma-server")
	})

	t.Run("HPA is ScalingActive with a value", func(t *testing.T) {
		eventually(t, 60*time.Second, "HPA ScalingActive=True", func(ctx context.Context) string {
			hpa, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, vllmName, metav1.GetOptions{})
			if err != nil {
				return err.Error()
			}
			for _, c := range hpa.Status.Conditions {
				if c.Type == "ScalingActive" {
					if c.Status != corev1.ConditionTrue {
						return fmt.Sprintf("ScalingActive=%s %s: %s", c.Status, c.Reason, c.Message)
					}
					if len(hpa.Status.CurrentMetrics) == 0 || hpa.Status.CurrentMetrics[0].Pods == nil {
						return "no current metric value"
					}
					return ""
				}
			}
			return "no ScalingActive condition yet"
		})
		mustContain(t, "the adapter's log", adapterLogs(t, false), "filter_builder.go", "Query with filter(s)",
			`metric.type = \"prometheus.googleapis.com/vllm:num_requests_running/gauge\"`, `resource.labels.namespace = \"e2e-tutorial\"`)
	})

	t.Run("load scales the Deployment up", func(t *testing.T) {
		// 12 requests in flight on one pod at a target of 4 per pod.
		since := time.Now().Add(-time.Second)
		stop := startLoad(t, cluster.kubeconfig, ns, "llm-service", "--concurrency", "12", "--duration", "3m")
		defer stop()
		eventually(t, 120*time.Second, "the HPA controller scales the Deployment above 1 for vllm:num_requests_running", func(ctx context.Context) string {
			d, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, vllmName, metav1.GetOptions{})
			if err != nil {
				return err.Error()
			}
			if *d.Spec.Replicas < 2 {
				return fmt.Sprintf("replicas %d", *d.Spec.Replicas)
			}
			return rescaledFor(ctx, ns, vllmName, since, "vllm:num_requests_running")
		})
	})

	t.Run("rerun changes nothing and sends no write", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, args...)
		if r.code != 0 {
			t.Fatalf("rerun failed: %s", r)
		}
		if w := r.reqs.writes(); len(w) != 0 {
			t.Errorf("rerun sent %d writes: %v", len(w), w)
		}
		for _, m := range []string{"PATCH", "PUT", "POST", "DELETE"} {
			if n := r.reqs.count(m); n != 0 {
				t.Errorf("rerun sent %d %s requests (not even an access review is needed)", n, m)
			}
		}
		mustContain(t, "stderr", r.stderr, "[ok  ] permissions: nothing to write")
		if strings.Contains(r.stdout, " created") || strings.Contains(r.stdout, " configured") {
			t.Errorf("rerun reported changes:\n%s", r.stdout)
		}
		mustContain(t, "stdout", r.stdout, "horizontalpodautoscaler.autoscaling/vllm-gemma-deployment unchanged", "setup complete: 13 unchanged")
	})

	t.Run("diff is empty with the same options", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, append([]string{"diff"}, base...)...)
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("diff: want exit 0 and no output: %s", r)
		}
		if w := r.reqs.writes(); len(w) != 0 {
			t.Errorf("diff sent writes: %v", w)
		}
	})

	gpu := append([]string{"setup", "--skip-iam"}, gpuBase...)
	t.Run("diff shows a new metric", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, append([]string{"diff"}, gpuBase...)...)
		if r.code != 1 {
			t.Fatalf("diff: want exit 1: %s", r)
		}
		mustContain(t, "diff", r.stdout, "+++ merged/clusterrules.monitoring.googleapis.com/infer-hpa-dcgm-gpu-util",
			"--- live/horizontalpodautoscaler.autoscaling/vllm-gemma-deployment", "+        name: prometheus.googleapis.com|infer_hpa:dcgm_fi_dev_gpu_util|gauge")
		if n := r.reqs.count("PATCH"); n == 0 {
			t.Error("diff sent no server-side dry run")
		}
		mustNotExist(t, clusterRules, "", "infer-hpa-dcgm-gpu-util")
	})

	t.Run("--dcgm self without exporter pods fails the preflight", func(t *testing.T) {
		// The twin runs GKE's managed exporter, whose pods our dcgm-self
		// ClusterPodMonitoring would not select.
		r := plugin(t, cluster.kubeconfig, append(append([]string{}, gpu...), "--dcgm", "self")...)
		oneLineError(t, r, "preflight failed")
		mustContain(t, "stderr", r.stderr, "[FAIL] DCGM exporter: --dcgm self scrapes pods labelled app.kubernetes.io/name=nvidia-dcgm-exporter",
			"--dcgm managed")
		noWrites(t, r)
	})

	t.Run("a new option applies only the difference", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, gpu...)
		if r.code != 0 {
			t.Fatalf("setup: %s", r)
		}
		// The twin's simulation runs GKE's managed DCGM exporter (its
		// DaemonSet and ClusterPodMonitoring in gke-managed-system), so
		// setup only adds the rules that record the HPA's GPU metric.
		mustContain(t, "stderr", r.stderr, "discovered: --dcgm managed (GKE's managed DCGM exporter runs)")
		mustContain(t, "stdout", r.stdout, "clusterrules.monitoring.googleapis.com/infer-hpa-dcgm-gpu-util created",
			"horizontalpodautoscaler.autoscaling/vllm-gemma-deployment configured",
			"deployment.apps/custom-metrics-stackdriver-adapter unchanged")
		if n := r.reqs.count("PATCH"); n != 3 {
			t.Errorf("want 3 PATCHes (parent, the new rules, HPA), got %d: %v", n, r.reqs.writes())
		}
	})

	t.Run("gpu-util from the simulated DCGM scales the Deployment", func(t *testing.T) {
		// 3 requests in flight keep the GPUs busy (~100% > 60) while
		// vllm:num_requests_running stays below 4 per pod: only gpu-util
		// asks for more replicas.
		since := time.Now().Add(-time.Second)
		stop := startLoad(t, cluster.kubeconfig, ns, "llm-service", "--concurrency", "3", "--duration", "3m")
		defer stop()
		eventually(t, 120*time.Second, "a rescale for gpu-util", func(ctx context.Context) string {
			return rescaledFor(ctx, ns, vllmName, since, "infer_hpa:dcgm_fi_dev_gpu_util")
		})
	})

	t.Run("dropping the option prunes what it needed", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, args...)
		if r.code != 0 {
			t.Fatalf("setup: %s", r)
		}
		mustContain(t, "stdout", r.stdout, "clusterrules.monitoring.googleapis.com/infer-hpa-dcgm-gpu-util pruned")
		mustNotExist(t, clusterRules, "", "infer-hpa-dcgm-gpu-util")
		if _, err := get(context.Background(), cpmGVR, "", "gke-managed-dcgm-exporter"); err != nil {
			t.Errorf("GKE's ClusterPodMonitoring of its DCGM exporter is gone: %v", err)
		}
	})

	t.Run("cleanup --dry-run lists and writes nothing", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--dry-run")
		if r.code != 0 {
			t.Fatalf("cleanup --dry-run: %s", r)
		}
		if w := r.reqs.writes(); len(w) != 0 {
			t.Errorf("cleanup --dry-run sent writes: %v", w)
		}
		mustContain(t, "stdout", r.stdout, "horizontalpodautoscaler.autoscaling/vllm-gemma-deployment deleted (client dry run)",
			"namespace/custom-metrics deleted (client dry run)")
	})

	t.Run("cleanup removes everything of ours and nothing else", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns)
		if r.code != 0 {
			t.Fatalf("cleanup: %s", r)
		}
		mustContain(t, "stdout", r.stdout, "cleanup complete: 13 deleted")
		ctx := ctxFor(t, 30*time.Second)
		for _, name := range metricAPIs {
			mustNotExist(t, apiServiceGVR, "", name)
		}
		mustNotExist(t, podMonGVR, ns, vllmName+"-vllm")
		mustNotExist(t, podMonGVR, ns, vllmName+"-vllm")
		if _, err := cluster.kube.CoreV1().Namespaces().Get(ctx, "custom-metrics", metav1.GetOptions{}); err == nil {
			t.Error("namespace custom-metrics still exists")
		}
		if _, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, vllmName, metav1.GetOptions{}); err == nil {
			t.Error("HPA still exists")
		}
		left, err := cluster.kube.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: apply.LabelManagedBy + "=" + apply.ManagedBy})
		if err != nil || len(left.Items) != 0 {
			t.Errorf("cluster role bindings of ours left: %v %v", left, err)
		}
		d, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the vLLM Deployment is gone: %v", err)
		}
		for _, mf := range d.ManagedFields {
			if mf.Manager == apply.FieldManager {
				t.Errorf("setup wrote to the vLLM Deployment: %+v", mf)
			}
		}
		cm, err := cluster.kube.CoreV1().ConfigMaps(ns).Get(ctx, "bystander", metav1.GetOptions{})
		if err != nil || cm.ResourceVersion != bystander.ResourceVersion {
			t.Errorf("a bystander ConfigMap was touched: %v %v", cm, err)
		}
	})

	t.Run("cleanup twice is fine", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns)
		if r.code != 0 || !strings.Contains(r.stdout, "nothing to clean up") {
			t.Fatalf("second cleanup: %s", r)
		}
		if w := r.reqs.writes(); len(w) != 0 {
			t.Errorf("second cleanup sent writes: %v", w)
		}
	})
}

// vllmService puts a Service on port 8000 in front of the pods app=APP,
// to their port targetPort (the load goes through it, as the tutorial's).
func vllmService(t *testing.T, ns, name, app string, targetPort int32) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(targetPort)}}},
	}
	if _, err := cluster.kube.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// startLoad runs the plugin's own load generator (the built binary; shape
// flags such as --concurrency 12 --duration 3m, or --stages) against the
// simulated vLLM servers behind a Service until stop is called or the load
// ends.
func startLoad(t *testing.T, kubeconfig, ns, svc string, shape ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, mustPluginBinary(t), append([]string{"--kubeconfig", kubeconfig, "load", "svc/" + svc, "-n", ns,
		"--output-tokens", "64", "--plain"}, shape...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return func() {
		cancel()
		<-done
		t.Logf("kubectl infer-hpa load svc/%s -n %s %s:\n%s", svc, ns, strings.Join(shape, " "), out.String())
	}
}

// adapterLogs is the log of the (first) real adapter pod's container, or of
// its previous run.
func adapterLogs(t *testing.T, previous bool) string {
	t.Helper()
	ctx := context.Background()
	pods, err := cluster.kube.CoreV1().Pods("custom-metrics").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=custom-metrics-stackdriver-adapter"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("no adapter pod: %v", err)
	}
	b, err := cluster.kube.CoreV1().Pods("custom-metrics").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Previous: previous}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s (previous %v): %v", pods.Items[0].Name, previous, err)
	}
	return string(b)
}

// rescaledFor is "" once the HPA has rescaled since then because the named
// metric was above its target (the HPA controller's SuccessfulRescale
// event), else what it has seen.
func rescaledFor(ctx context.Context, ns, hpa string, since time.Time, metric string) string {
	evs, err := cluster.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=" + hpa})
	if err != nil {
		return err.Error()
	}
	var seen []string
	for _, e := range evs.Items {
		last := e.LastTimestamp.Time
		if e.EventTime.After(last) {
			last = e.EventTime.Time
		}
		if e.Reason != "SuccessfulRescale" || last.Before(since) {
			continue
		}
		if strings.Contains(e.Message, metric+"|gauge above target") {
			return ""
		}
		seen = append(seen, e.Message)
	}
	return fmt.Sprintf("no SuccessfulRescale for %s since %s (saw %q)", metric, since.Format(time.TimeOnly), seen)
}
