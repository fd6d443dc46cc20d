package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

func kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", tw.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func apply(t *testing.T, yaml string) {
	t.Helper()
	if _, err := kubectl(context.Background(), yaml, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 500ms until it returns true or timeout passes;
// the last message explains a failure.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(context.Context) (bool, error) {
		ok, msg := cond()
		last = msg
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
	}
}

var adapterOnce sync.Once

// installAdapter applies the plugin's adapter manifests and waits until
// the custom metrics APIService is Available through the stand-in.
func installAdapter(t *testing.T) {
	t.Helper()
	adapterOnce.Do(func() {
		if _, err := kubectl(context.Background(), "", "apply", "-k", repo+"/embedded/library/adapter"); err != nil {
			t.Fatal(err)
		}
	})
	eventually(t, 60*time.Second, "APIService v1beta2.custom.metrics.k8s.io Available", func() (bool, string) {
		out, err := kubectl(context.Background(), "", "get", "apiservice", "v1beta2.custom.metrics.k8s.io",
			"-o", `jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].message}`)
		return err == nil && strings.HasPrefix(out, "True"), out
	})
}

// gcp calls the local Google API server's REST API (as gcloud would).
func gcp(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, strings.TrimSuffix(gcpURL, "/")+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %v", method, path, resp.Status, out)
	}
	return out
}

const (
	viewer = "roles/monitoring.viewer"
	gsa    = "metrics-adapter-gsa@twin-project.iam.gserviceaccount.com"
)

// setProjectViewers makes members the only holders of roles/monitoring.viewer
// on the project (read-modify-write with the etag, as gcloud does).
func setProjectViewers(t *testing.T, members ...string) {
	t.Helper()
	pol := gcp(t, "POST", "/v1/projects/"+project.id+":getIamPolicy", map[string]any{"options": map[string]any{"requestedPolicyVersion": 3}})
	var keep []any
	bs, _ := pol["bindings"].([]any)
	for _, b := range bs {
		if b.(map[string]any)["role"] != viewer {
			keep = append(keep, b)
		}
	}
	if len(members) > 0 {
		keep = append(keep, map[string]any{"role": viewer, "members": members})
	}
	pol["bindings"] = keep
	pol["version"] = 3
	gcp(t, "POST", "/v1/projects/"+project.id+":setIamPolicy", map[string]any{"policy": pol})
}

// grantTutorialWay is the tutorial's Workload Identity: a GSA with
// monitoring.viewer that the adapter's KSA may impersonate, named in the
// KSA's annotation.
func grantTutorialWay(t *testing.T) {
	t.Helper()
	accounts := gcp(t, "GET", "/v1/projects/"+project.id+"/serviceAccounts", nil)
	if !strings.Contains(fmt.Sprint(accounts), gsa) {
		gcp(t, "POST", "/v1/projects/"+project.id+"/serviceAccounts", map[string]any{"accountId": "metrics-adapter-gsa"})
	}
	member := "serviceAccount:" + project.id + ".svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"
	gcp(t, "POST", "/v1/projects/"+project.id+"/serviceAccounts/"+gsa+":setIamPolicy", map[string]any{"policy": map[string]any{
		"bindings": []any{map[string]any{"role": "roles/iam.workloadIdentityUser", "members": []string{member}}}}})
	setProjectViewers(t, "serviceAccount:"+gsa)
	if _, err := kubectl(context.Background(), "", "-n", "custom-metrics", "annotate", "--overwrite", "serviceaccount",
		"custom-metrics-stackdriver-adapter", "iam.gke.io/gcp-service-account="+gsa); err != nil {
		t.Fatal(err)
	}
}

// principal is today's GKE docs' direct Workload Identity principal of the
// adapter's KSA.
func principal() string {
	return "principal://iam.googleapis.com/projects/" + project.number + "/locations/global/workloadIdentityPools/" +
		project.id + ".svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"
}

// vllmPods gives every pod of a namespace with label app=gemma-server a
// loopback /metrics server on its port 8081, serving
// vllm:num_requests_running = load / (number of such pods), the way a
// steady stream of requests spreads over a Service's endpoints.
type vllmPods struct {
	ns     string
	mu     sync.Mutex
	load   float64
	tokens float64 // prompt tokens so far (all pods together; a counter)
	srvs   map[string]*http.Server
}

func newVLLMPods(t *testing.T, ns string) *vllmPods {
	v := &vllmPods{ns: ns, srvs: map[string]*http.Server{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, s := range v.srvs {
			s.Close()
		}
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			v.mapPods(ctx, t)
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	return v
}

func (v *vllmPods) setLoad(l float64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.load = l
}

func (v *vllmPods) mapPods(ctx context.Context, t *testing.T) {
	pods, err := tw.Client.CoreV1().Pods(v.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gemma-server"})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		v.mu.Lock()
		_, ok := v.srvs[p.Name]
		v.mu.Unlock()
		if ok || p.Status.Phase != corev1.PodRunning {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(v.serveMetrics)}
		go func() { _ = srv.Serve(ln) }()
		if err := tw.ForwardPodPort(ctx, v.ns, p.Name, 8081, ln.Addr().String()); err != nil {
			srv.Close()
			continue
		}
		v.mu.Lock()
		v.srvs[p.Name] = srv
		v.mu.Unlock()
	}
}

func (v *vllmPods) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	v.mu.Lock()
	per := v.load / float64(max(len(v.srvs), 1))
	v.tokens += per * 10
	tokens := v.tokens
	v.mu.Unlock()
	fmt.Fprintf(w, "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"+
		"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\",model_name=\"google/gemma-3-1b-it\"} %g\n"+
		"# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n"+
		"# TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total{engine=\"0\",model_name=\"google/gemma-3-1b-it\"} %g\n",
		per, tokens)
}

// tutorialWorkload is the tutorial's Deployment (labels app: gemma-server,
// port 8081) without GPUs, so any number of its pods fit the twin's nodes.
func tutorialWorkload(ns string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vllm-gemma-deployment
  namespace: %[1]s
spec:
  selector:
    matchLabels:
      app: gemma-server
  template:
    metadata:
      labels:
        app: gemma-server
    spec:
      containers:
      - name: inference-server
        image: vllm/vllm-openai:latest
        args: ["--model=google/gemma-3-1b-it", "--port=8081"]
        ports:
        - containerPort: 8081
`, ns)
}

// podMonitoring is the tutorial's PodMonitoring, with a 1s interval.
func podMonitoring(ns string, port int) string {
	return fmt.Sprintf(`
apiVersion: monitoring.googleapis.com/v1
kind: PodMonitoring
metadata:
  name: gemma-server
  namespace: %s
spec:
  selector:
    matchLabels:
      app: gemma-server
  endpoints:
  - port: %d
    path: /metrics
    interval: 1s
`, ns, port)
}

// tutorialHPA scales on the running-requests gauge at AverageValue 4 (the
// tutorial's); scale-down is not stabilised so the test need not wait 5 min.
func tutorialHPA(ns string) string {
	return fmt.Sprintf(`
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: gemma-server-hpa
  namespace: %s
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: vllm-gemma-deployment
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Pods
    pods:
      metric:
        name: prometheus.googleapis.com|vllm:num_requests_running|gauge
      target:
        type: AverageValue
        averageValue: 4
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 0
`, ns)
}

// hpaCondition is "STATUS REASON: MESSAGE" of one HPA condition.
func hpaCondition(ns, typ string) string {
	out, _ := kubectl(context.Background(), "", "-n", ns, "get", "hpa", "gemma-server-hpa", "-o",
		fmt.Sprintf(`jsonpath={.status.conditions[?(@.type=="%s")].status} {.status.conditions[?(@.type=="%s")].reason}: {.status.conditions[?(@.type=="%s")].message}`, typ, typ, typ))
	return out
}

func replicas(ns string) (int32, string) {
	d, err := tw.Client.AppsV1().Deployments(ns).Get(context.Background(), "vllm-gemma-deployment", metav1.GetOptions{})
	if err != nil {
		return -1, err.Error()
	}
	return d.Status.ReadyReplicas, fmt.Sprintf("spec %d, ready %d; ScalingActive %s", *d.Spec.Replicas, d.Status.ReadyReplicas, hpaCondition(ns, "ScalingActive"))
}

func adapterLogs() string {
	out, err := kubectl(context.Background(), "", "-n", "custom-metrics", "logs", "deploy/custom-metrics-stackdriver-adapter")
	if err != nil {
		return err.Error()
	}
	return out
}
