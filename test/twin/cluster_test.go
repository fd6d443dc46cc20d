package twin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

func TestKubeconfigContextAndNodes(t *testing.T) {
	cfg, err := clientcmd.LoadFromFile(tw.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if want := "gke_twin-project_us-central1_twin"; cfg.CurrentContext != want || tw.Context != want {
		t.Errorf("context = %q / %q, want %q", cfg.CurrentContext, tw.Context, want)
	}
	nodes, err := tw.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "cloud.google.com/gke-accelerator=nvidia-l4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 2 {
		t.Fatalf("%d GPU nodes, want 2", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		gpus := n.Status.Allocatable["nvidia.com/gpu"]
		if gpus.Value() != 1 {
			t.Errorf("node %s allocatable nvidia.com/gpu = %s", n.Name, gpus.String())
		}
		if n.Labels["iam.gke.io/gke-metadata-server-enabled"] != "true" || n.Labels["cloud.google.com/gke-nodepool"] != "gpu-pool" {
			t.Errorf("node %s labels = %v", n.Name, n.Labels)
		}
		if !strings.HasPrefix(n.Spec.ProviderID, "gce://twin-project/us-central1-a/") {
			t.Errorf("node %s providerID = %q", n.Name, n.Spec.ProviderID)
		}
		if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "nvidia.com/gpu" || n.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
			t.Errorf("node %s taints = %v", n.Name, n.Spec.Taints)
		}
	}
	for _, ns := range []string{"gke-managed-system", "gmp-system", "gmp-public"} {
		if _, err := tw.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
	}
	if _, err := tw.Client.CoreV1().ServiceAccounts("kube-system").Get(context.Background(), "horizontal-pod-autoscaler", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
}

const podMonitoring = `
apiVersion: monitoring.googleapis.com/v1
kind: PodMonitoring
metadata:
  name: vllm
  namespace: default
spec:
  selector:
    matchLabels:
      app: gemma-server
  endpoints:
  - port: 8081
    interval: 15s
`

const gpuDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gemma-server
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: gemma-server
  template:
    metadata:
      labels:
        app: gemma-server
    spec:
      nodeSelector:
        cloud.google.com/gke-accelerator: nvidia-l4
      tolerations:
      - key: nvidia.com/gpu
        operator: Exists
        effect: NoSchedule
      containers:
      - name: vllm
        image: vllm/vllm-openai:latest
        ports:
        - containerPort: 8081
        resources:
          limits:
            nvidia.com/gpu: "1"
`

// apply server-side applies one YAML object.
func apply(t *testing.T, gvr schema.GroupVersionResource, manifest string) error {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatal(err)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(tw.Config)
	force := true
	_, err = dyn.Resource(gvr).Namespace(obj.GetNamespace()).Patch(context.Background(), obj.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "twin-test", Force: &force})
	return err
}

func TestApplyPodMonitoringAndGPUDeployment(t *testing.T) {
	pm := schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "podmonitorings"}
	if err := apply(t, pm, podMonitoring); err != nil {
		t.Fatalf("apply PodMonitoring: %v", err)
	}
	// The real GKE schema is enforced: an endpoint without a port is refused.
	bad := strings.Replace(strings.Replace(podMonitoring, "  - port: 8081\n    interval", "  - interval", 1), "name: vllm", "name: bad", 1)
	if err := apply(t, pm, bad); err == nil || !strings.Contains(err.Error(), "port") {
		t.Errorf("PodMonitoring without endpoint port: err = %v, want a schema error naming port", err)
	}
	if err := apply(t, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, gpuDeployment); err != nil {
		t.Fatalf("apply Deployment: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pods *corev1.PodList
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var err error
		pods, err = tw.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=gemma-server"})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) {
				ready++
			}
		}
		return ready == 2, nil
	})
	if err != nil {
		t.Fatalf("pods not Running/Ready: %v; pods: %s", err, describePods(pods))
	}
	for _, p := range pods.Items {
		n, err := tw.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Labels["cloud.google.com/gke-accelerator"] != "nvidia-l4" {
			t.Errorf("pod %s runs on %s, not a GPU node", p.Name, n.Name)
		}
	}
	// One GPU per node and per pod: the two pods must be on different nodes.
	if pods.Items[0].Spec.NodeName == pods.Items[1].Spec.NodeName {
		t.Errorf("both pods on %s although each node has one GPU", pods.Items[0].Spec.NodeName)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describePods(pods *corev1.PodList) string {
	if pods == nil {
		return "none"
	}
	var b strings.Builder
	for _, p := range pods.Items {
		b.WriteString(p.Name + " " + string(p.Status.Phase) + " node=" + p.Spec.NodeName + "; ")
	}
	return b.String()
}

// TestHPAControllerRuns: the real HPA controller picks up an HPA on a
// Deployment. No custom metrics API is served yet (the simulation adds one),
// so it reports that it cannot get the metric — which proves it ran.
func TestHPAControllerRuns(t *testing.T) {
	const hpa = `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: gemma-server
  namespace: default
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: gemma-server
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Pods
    pods:
      metric:
        name: prometheus.googleapis.com|vllm:num_requests_running|gauge
      target:
        type: AverageValue
        averageValue: "4"
`
	gvr := schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
	if err := apply(t, gvr, hpa); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		h, err := tw.Client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "gemma-server", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range h.Status.Conditions {
			last += string(c.Type) + "=" + string(c.Status) + " " + c.Reason + "; "
			if c.Type == "ScalingActive" && c.Reason == "FailedGetPodsMetric" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("HPA controller did not report on the HPA: %v (conditions seen: %s)", err, last)
	}
}
