package pipeline_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const exporterNS = "gke-managed-system"

// dcgmExporter is GKE's managed DCGM exporter as GMP sees it: a pod with
// its ClusterPodMonitoring, serving DCGM_FI_DEV_GPU_UTIL labelled with the
// workload pod that uses the GPU (Kubernetes mapping on).
const dcgmExporter = `
apiVersion: v1
kind: Pod
metadata:
  name: dcgm-exporter-0
  namespace: gke-managed-system
  labels:
    app.kubernetes.io/name: gke-managed-dcgm-exporter
spec:
  nodeSelector:
    cloud.google.com/gke-accelerator: nvidia-l4
  tolerations:
  - key: nvidia.com/gpu
    operator: Exists
  containers:
  - name: dcgm-exporter
    image: nvcr.io/nvidia/k8s/dcgm-exporter:3.3.5-3.4.1-ubuntu22.04
    ports:
    - name: metrics
      containerPort: 9400
---
apiVersion: monitoring.googleapis.com/v1
kind: ClusterPodMonitoring
metadata:
  name: gke-managed-dcgm-exporter
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: gke-managed-dcgm-exporter
  endpoints:
  - port: metrics
    interval: 1s
`

// The tutorial's namespaced Rules recording DCGM_FI_DEV_GPU_UTIL as is.
const tutorialGPURules = `
apiVersion: monitoring.googleapis.com/v1
kind: Rules
metadata:
  name: gpu-util
  namespace: gpu
spec:
  groups:
  - name: gpu
    interval: 1s
    rules:
    - record: dcgm_fi_dev_gpu_util
      expr: DCGM_FI_DEV_GPU_UTIL
`

// DCGM series carry the workload pod in exported_pod; the tutorial's plain
// Rules gives the HPA nothing; the plugin's ClusterRules
// (embedded/library/components/metric-gpu-util) gives it a per-pod metric.
func TestDCGMNeedsTheRelabellingRule(t *testing.T) {
	env.UsePrincipal(t)
	env.InstallAdapter(t)
	ns := "gpu"
	apply(t, tutorialWorkload(ns))
	var vllmPod string
	eventually(t, 30*time.Second, "vLLM pod running", func() (bool, string) {
		pods, err := tw.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=gemma-server"})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
			return false, fmt.Sprint(err)
		}
		vllmPod = pods.Items[0].Name
		return true, ""
	})
	startDCGM(t, vllmPod, ns)
	apply(t, dcgmExporter)

	eventually(t, 30*time.Second, "raw DCGM series with exported_pod", func() (bool, string) {
		got := col.Store.Select(time.Now().Add(-time.Minute), time.Now(), labels.MustNewMatcher(labels.MatchEqual, "__name__", "DCGM_FI_DEV_GPU_UTIL"))
		if len(got) != 1 {
			return false, fmt.Sprint(got)
		}
		l := got[0].Labels
		return l.Get("exported_pod") == vllmPod && l.Get("exported_namespace") == ns && l.Get("pod") == "dcgm-exporter-0" &&
			l.Get("namespace") == exporterNS && l.Get("job") == "gke-managed-dcgm-exporter", l.String()
	})
	// The exporter's own series under its upper-case name: the real adapter
	// passes the name to Cloud Monitoring with its case, and finds it for
	// the exporter pod (not for the vLLM pod: the pod label is the exporter's).
	eventually(t, 30*time.Second, "upper-case DCGM metric of the exporter pod", func() (bool, string) {
		out, err := customMetric(exporterNS, "prometheus.googleapis.com|DCGM_FI_DEV_GPU_UTIL|gauge", "app.kubernetes.io/name=gke-managed-dcgm-exporter")
		return err == nil && strings.Contains(out, `"name":"dcgm-exporter-0"`), out
	})

	apply(t, tutorialGPURules)
	eventually(t, 30*time.Second, "Rules ConfigurationCreateSuccess", func() (bool, string) {
		out, _ := kubectl(context.Background(), "", "-n", ns, "get", "rules", "gpu-util", "-o",
			`jsonpath={.status.conditions[?(@.type=="ConfigurationCreateSuccess")].status}`)
		return out == "True", out
	})
	time.Sleep(4 * time.Second) // a few evaluations and the ingestion delay
	if out, err := customMetric(ns, "prometheus.googleapis.com|dcgm_fi_dev_gpu_util|gauge", "app=gemma-server"); err == nil ||
		!strings.Contains(out, "could not find the descriptor") {
		t.Fatalf("the tutorial's namespaced Rules gave the vLLM pods a GPU metric: %v %s", err, out)
	}

	metric, rules := env.GPUMetric(t)
	apply(t, rules)
	eventually(t, 30*time.Second, "per-pod GPU metric through the custom metrics API", func() (bool, string) {
		out, err := customMetric(ns, metric, "app=gemma-server")
		return err == nil && strings.Contains(out, `"name":"`+vllmPod+`"`) && strings.Contains(out, `"value":"80"`), out
	})
}

// customMetric asks the aggregated custom metrics API what the HPA asks:
// the metric for the pods a label selector matches.
func customMetric(ns, metric, selector string) (string, error) {
	path := "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns + "/pods/*/" + url.PathEscape(metric) + "?labelSelector=" + url.QueryEscape(selector)
	return kubectl(context.Background(), "", "get", "--raw", path)
}

// startDCGM serves the exporter's metrics for one GPU used by pod
// workloadNS/workload, mapped to the exporter pod's port 9400.
func startDCGM(t *testing.T, workload, workloadNS string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %%).\n# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"+
			"DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-0b9c4c3e\",device=\"nvidia0\",modelName=\"NVIDIA L4\",Hostname=\"gke-twin-gpu-pool\",container=\"inference-server\",namespace=%q,pod=%q} 80\n",
			workloadNS, workload)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	if err := tw.ForwardPodPort(context.Background(), exporterNS, "dcgm-exporter-0", 9400, ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
}
