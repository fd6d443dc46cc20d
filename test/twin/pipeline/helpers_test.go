package pipeline_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
)

var eventually = adaptertest.Eventually

func kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return env.Kubectl(ctx, stdin, args...)
}

func apply(t *testing.T, yaml string) { t.Helper(); env.Apply(t, yaml) }

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

func replicas(ns string) (int32, string) {
	d, err := tw.Client.AppsV1().Deployments(ns).Get(context.Background(), "vllm-gemma-deployment", metav1.GetOptions{})
	if err != nil {
		return -1, err.Error()
	}
	return d.Status.ReadyReplicas, fmt.Sprintf("spec %d, ready %d; ScalingActive %s", *d.Spec.Replicas, d.Status.ReadyReplicas, env.HPACondition(ns, "gemma-server-hpa", "ScalingActive"))
}
