package native_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/native"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
)

// A twin with the GKE-native stand-in only (no Managed Prometheus, no
// Stackdriver adapter, no Google API) and the plugin built from this tree.
var (
	tw     *twin.Twin
	env    *adaptertest.Env
	plugin string
)

func TestMain(m *testing.M) {
	twin.MainInNetNS()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	repo, err := filepath.Abs("../../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin, err := os.MkdirTemp("", "native-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	plugin = filepath.Join(bin, "kubectl-infer-hpa")
	build := exec.Command("go", "build", "-o", plugin, "./cmd/kubectl-infer-hpa")
	build.Dir, build.Env = repo, append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the plugin: %v: %s\n", err, out)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tw, err = twin.Start(ctx, twin.Options{Log: os.Stderr, HPASyncPeriod: 2 * time.Second, Native: &native.Options{}, ServerVersion: gkeVersion})
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin: start:", err)
		return 1
	}
	defer tw.Stop()
	if env, err = adaptertest.New(tw, repo); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		for _, c := range []string{"kube-controller-manager", "egress-proxy", "native"} {
			fmt.Fprintf(os.Stderr, "--- %s log (tail)\n%s\n", c, tw.Logs(c, 30))
		}
	}
	return code
}

// gkeVersion is what the twin reports, as a GKE 1.35.2 Rapid cluster would.
const gkeVersion = "v1.35.2-gke.1485000"

// Clients of the twin's kubeconfig (kubectl, the plugin) see the GKE
// version; the AutoscalingMetric kind is in discovery.
func TestLooksLikeGKE135(t *testing.T) {
	out, err := env.Kubectl(context.Background(), "", "version", "-o", "json")
	if err != nil || !strings.Contains(out, `"gitVersion": "`+gkeVersion+`"`) || !strings.Contains(out, `"minor": "35"`) {
		t.Errorf("kubectl version: %v\n%s", err, out)
	}
	out, err = env.Kubectl(context.Background(), "", "api-resources", "--api-group=autoscaling.gke.io", "-o", "name")
	if err != nil || strings.TrimSpace(out) != "autoscalingmetrics.autoscaling.gke.io" {
		t.Errorf("api-resources: %v %q", err, out)
	}
}

// render runs the plugin's render against nothing (render needs no cluster).
func render(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(plugin, append([]string{"render"}, args...)...).Output()
	if err != nil {
		t.Fatalf("render %v: %v", args, err)
	}
	return string(out)
}

// loadPods serves, behind every running pod of ns labelled app=gemma-server,
// a /metrics on port 8081 whose vllm:num_requests_running is load spread
// over the pods, plus a counter the stand-in must not serve.
type loadPods struct {
	mu   sync.Mutex
	load float64
	srvs map[string]*http.Server
}

func newLoadPods(t *testing.T, ns string) *loadPods {
	l := &loadPods{srvs: map[string]*http.Server{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, s := range l.srvs {
			s.Close()
		}
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pods, err := tw.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gemma-server"})
			for _, p := range podsOrNone(pods, err) {
				l.serve(ctx, t, ns, p)
			}
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	return l
}

func podsOrNone(l *corev1.PodList, err error) []corev1.Pod {
	if err != nil {
		return nil
	}
	return l.Items
}

func (l *loadPods) serve(ctx context.Context, t *testing.T, ns string, p corev1.Pod) {
	l.mu.Lock()
	_, ok := l.srvs[p.Name]
	l.mu.Unlock()
	if ok || p.Status.Phase != corev1.PodRunning {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Error(err)
		return
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		l.mu.Lock()
		per := l.load / float64(max(len(l.srvs), 1))
		l.mu.Unlock()
		fmt.Fprintf(w, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\"} %g\n"+
			"# TYPE vllm:request_success_total counter\nvllm:request_success_total{engine=\"0\"} 12\n", per)
	})}
	go func() { _ = srv.Serve(ln) }()
	if err := tw.ForwardPodPort(ctx, ns, p.Name, 8081, ln.Addr().String()); err != nil {
		srv.Close()
		return
	}
	l.mu.Lock()
	l.srvs[p.Name] = srv
	l.mu.Unlock()
}

func (l *loadPods) set(v float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.load = v
}

func workload(ns string) string {
	return fmt.Sprintf(`apiVersion: v1
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
      nodeSelector:
        cloud.google.com/gke-nodepool: default-pool
      containers:
      - name: inference-server
        image: vllm/vllm-openai:latest
        ports:
        - containerPort: 8081
`, ns)
}

func replicas(ns string) (int32, string) {
	d, err := tw.Client.AppsV1().Deployments(ns).Get(context.Background(), "vllm-gemma-deployment", metav1.GetOptions{})
	if err != nil {
		return -1, err.Error()
	}
	return d.Status.ReadyReplicas, fmt.Sprintf("spec %d, ready %d; ScalingActive %s", *d.Spec.Replicas, d.Status.ReadyReplicas,
		env.HPACondition(ns, "vllm-gemma-deployment", "ScalingActive"))
}

// The plugin's `render --path native` output, applied as is: the real HPA
// controller reads vllm:num_requests_running through the stand-in under
// autoscaling.gke.io|OBJECT|GAUGE and scales the tutorial's Deployment up
// under load and back down without it.
func TestRenderedNativePathScales(t *testing.T) {
	ns := "native"
	env.Apply(t, workload(ns))
	load := newLoadPods(t, ns)
	env.Apply(t, render(t, "--path", "native", "-n", ns, "--deployment", "vllm-gemma-deployment",
		"--pod-label", "app=gemma-server", "--metrics-port", "8081", "--metric", "running=4", "--behavior", "tutorial"))
	metric := "autoscaling.gke.io|vllm-gemma-deployment-vllm|num-requests-running"
	adaptertest.Eventually(t, 60*time.Second, "HPA computes the native metric", func() (bool, string) {
		c := env.HPACondition(ns, "vllm-gemma-deployment", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
	out, err := env.Kubectl(context.Background(), "", "get", "--raw", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/"+ns+"/pods/*/"+metric)
	if err != nil || !strings.Contains(out, `"name":"`+metric+`"`) {
		t.Fatalf("custom.metrics.k8s.io does not serve %s: %v %s", metric, err, out)
	}
	began := time.Now()
	load.set(16) // 4 pods at the target 4
	adaptertest.Eventually(t, 90*time.Second, "scale up to 4", func() (bool, string) {
		n, msg := replicas(ns)
		return n == 4, msg
	})
	t.Logf("scaled 1 -> 4 in %s", time.Since(began).Round(time.Second))
	began = time.Now()
	load.set(0)
	adaptertest.Eventually(t, 90*time.Second, "scale down to 1", func() (bool, string) {
		n, msg := replicas(ns)
		return n == 1, msg
	})
	t.Logf("scaled 4 -> 1 in %s", time.Since(began).Round(time.Second))
}

// GKE exposes gauges only: an AutoscalingMetric naming a counter gets no
// metric, and the stand-in says why in its log.
func TestCounterIsNotServed(t *testing.T) {
	ns := "counter"
	env.Apply(t, workload(ns))
	newLoadPods(t, ns)
	env.Apply(t, `apiVersion: autoscaling.gke.io/v1beta1
kind: AutoscalingMetric
metadata:
  name: requests
  namespace: counter
spec:
  metrics:
  - pod:
      selector:
        matchLabels:
          app: gemma-server
      containers:
      - endpoint:
          port: 8081
        metrics:
        - gauge:
            name: request-success
            prometheusMetricName: vllm:request_success_total
`)
	metric := "autoscaling.gke.io|requests|request-success"
	adaptertest.Eventually(t, 30*time.Second, "the counter is refused", func() (bool, string) {
		out, err := env.Kubectl(context.Background(), "", "get", "--raw", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/"+ns+"/pods/*/"+metric)
		return err != nil && strings.Contains(tw.Logs("native", 50), "vllm:request_success_total is a counter, and only gauges are exposed"), out
	})
}

// The CRD is written from GKE's documented fields: an undocumented gauge
// name shape or a port name is refused by the API server.
func TestCRDRefusesWhatGKEDoesNotDocument(t *testing.T) {
	for name, spec := range map[string]string{
		"digit-first gauge name": "port: 8081\n        metrics:\n        - gauge:\n            name: 1running\n            prometheusMetricName: vllm:num_requests_running",
		"upper-case gauge name":  "port: 8081\n        metrics:\n        - gauge:\n            name: Running\n            prometheusMetricName: vllm:num_requests_running",
		"port name":              "port: metrics\n        metrics:\n        - gauge:\n            name: running\n            prometheusMetricName: vllm:num_requests_running",
	} {
		obj := "apiVersion: autoscaling.gke.io/v1beta1\nkind: AutoscalingMetric\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  metrics:\n  - pod:\n      selector:\n        matchLabels:\n          app: x\n      containers:\n      - endpoint:\n          " + spec + "\n"
		if out, err := env.Kubectl(context.Background(), obj, "apply", "--dry-run=server", "-f", "-"); err == nil {
			t.Errorf("%s: accepted: %s", name, out)
		}
	}
}

func dynamicClient() (dynamic.Interface, error) { return dynamic.NewForConfig(tw.Config) }
