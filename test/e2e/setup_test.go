package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

const (
	runningMetric = "prometheus.googleapis.com|vllm:num_requests_running|gauge"
	vllmName      = "vllm-gemma-deployment"
)

// TestSetupEndToEnd is the tutorial on the twin: setup, the chain works
// and scales the Deployment, reruns change nothing, a changed option
// prunes, cleanup leaves nothing of ours and nothing else touched.
func TestSetupEndToEnd(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-tutorial")
	adapter := startStandIn(t)
	adapter.setLoad(runningMetric, "1")
	vllmDeployment(t, ns, vllmName, "gemma-server", 8081, true)
	bystander, err := cluster.kube.CoreV1().ConfigMaps(ns).Create(context.Background(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"-n", ns, "--metric", "running=4", "--behavior", "tutorial"}
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
		if adapter.served(runningMetric) == 0 {
			t.Fatal("the HPA controller never asked the adapter for the metric")
		}
	})

	t.Run("load scales the Deployment up", func(t *testing.T) {
		adapter.setLoad(runningMetric, "12")
		eventually(t, 90*time.Second, "the HPA controller scales the Deployment above 1", func(ctx context.Context) string {
			d, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, vllmName, metav1.GetOptions{})
			if err != nil {
				return err.Error()
			}
			if *d.Spec.Replicas < 2 {
				return fmt.Sprintf("replicas %d", *d.Spec.Replicas)
			}
			return ""
		})
		adapter.setLoad(runningMetric, "1")
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

	t.Run("a new option applies only the difference", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, gpu...)
		if r.code != 0 {
			t.Fatalf("setup: %s", r)
		}
		mustContain(t, "stdout", r.stdout, "clusterrules.monitoring.googleapis.com/infer-hpa-dcgm-gpu-util created",
			"clusterpodmonitoring.monitoring.googleapis.com/infer-hpa-dcgm-exporter created",
			"horizontalpodautoscaler.autoscaling/vllm-gemma-deployment configured",
			"deployment.apps/custom-metrics-stackdriver-adapter unchanged")
		if n := r.reqs.count("PATCH"); n != 4 {
			t.Errorf("want 4 PATCHes (parent, 2 new objects, HPA), got %d: %v", n, r.reqs.writes())
		}
	})

	t.Run("dropping the option prunes what it needed", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, args...)
		if r.code != 0 {
			t.Fatalf("setup: %s", r)
		}
		mustContain(t, "stdout", r.stdout, "clusterrules.monitoring.googleapis.com/infer-hpa-dcgm-gpu-util pruned",
			"clusterpodmonitoring.monitoring.googleapis.com/infer-hpa-dcgm-exporter pruned")
		mustNotExist(t, clusterRules, "", "infer-hpa-dcgm-gpu-util")
		mustNotExist(t, cpmGVR, "", "infer-hpa-dcgm-exporter")
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
