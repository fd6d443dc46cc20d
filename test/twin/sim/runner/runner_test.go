package runner_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/load"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/tutorial"
)

var tw *twin.Twin

const loadDelay = 2 * time.Second

func TestMain(m *testing.M) {
	twin.MainInNetNS()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	tw, err = twin.Start(ctx, twin.Options{Log: os.Stderr, GPUNodes: 2,
		Simulate: &runner.Options{Speed: 10, ModelLoadDelay: loadDelay, StatsLogInterval: 500 * time.Millisecond}})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin: start:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- kwok log (tail)\n%s\n--- egress-proxy log (tail)\n%s\n", tw.Logs("kwok", 20), tw.Logs("egress-proxy", 20))
	}
	if err := tw.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "twin: stop:", err)
		code = 1
	}
	os.Exit(code)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitPods waits until n pods match the selector and are Ready, and
// records when each was first seen Running but not Ready.
func waitPods(t *testing.T, ns, selector string, n int, notReadySeen map[string]time.Time) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pods []corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := tw.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			if _, seen := notReadySeen[p.Name]; notReadySeen != nil && !seen && p.Status.Phase == corev1.PodRunning && !ready(&p) {
				notReadySeen[p.Name] = time.Now()
			}
			if ready(&p) {
				pods = append(pods, p)
			}
		}
		return len(pods) == n && len(list.Items) == n, nil
	})
	if err != nil {
		t.Fatalf("%d ready pods of %s/%s: %v (have %d)", n, ns, selector, err, len(pods))
	}
	return pods
}

// proxyGet reads a pod port's path through the apiserver's pod proxy,
// which reaches the pod IP through the twin's egress proxy.
func proxyGet(t *testing.T, ns, pod string, port int, path string) string {
	t.Helper()
	b, err := tw.Client.CoreV1().Pods(ns).ProxyGet("http", pod, fmt.Sprint(port), path, nil).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("GET %s/%s:%d%s: %v", ns, pod, port, path, err)
	}
	return string(b)
}

func kubectl(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", tw.Kubeconfig}, args...)...)
}

func TestSimulation(t *testing.T) {
	ctx := context.Background()
	if _, err := tw.Client.CoreV1().Services("default").Create(ctx, tutorial.Service("default"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Client.CoreV1().Secrets("default").Create(ctx, tutorial.Secret("default"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	// The tutorial's Deployment (no GPU toleration: admission adds it),
	// with a small batch so the argument parsing shows.
	d := tutorial.Deployment("default", 2)
	c := &d.Spec.Template.Spec.Containers[0]
	c.Args = append(c.Args, "--max-num-seqs", "4")
	if _, err := tw.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A pod that does not run vLLM is still Ready at once.
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "default", Labels: map[string]string{"app": "plain"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}},
			NodeSelector: map[string]string{"cloud.google.com/gke-nodepool": "default-pool"}}}
	if _, err := tw.Client.CoreV1().Pods("default").Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(t, "default", "app=plain", 1, nil)
	if d := time.Since(created); d >= loadDelay {
		t.Errorf("a non-vLLM pod took %s to be Ready, as long as the model-load delay", d)
	}

	notReady := map[string]time.Time{}
	pods := waitPods(t, "default", "app=gemma-server", 2, notReady)
	readyAt := time.Now()
	t.Run("ReadyAfterModelLoad", func(t *testing.T) {
		for _, p := range pods {
			seen, ok := notReady[p.Name]
			if !ok {
				t.Errorf("pod %s never seen Running but not Ready", p.Name)
				continue
			}
			if d := readyAt.Sub(seen); d < loadDelay*3/4 {
				t.Errorf("pod %s Ready %s after it ran, want about the model-load delay %s", p.Name, d, loadDelay)
			}
			if p.Spec.NodeName == pods[0].Spec.NodeName && p.Name != pods[0].Name {
				t.Errorf("two one-GPU pods on node %s", p.Spec.NodeName)
			}
		}
	})
	t.Run("MetricsThroughKubectlPortForward", func(t *testing.T) { metricsThroughPortForward(t, pods[0].Name) })
	t.Run("StartupLinesInKubectlLogs", func(t *testing.T) {
		out, err := kubectl(ctx, "logs", pods[0].Name, "-c", "inference-server").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl logs: %v\n%s", err, out)
		}
		for _, want := range []string{"'model': 'google/gemma-3-1b-it', 'port': 8081, 'max_num_seqs': 4",
			"Starting vLLM API server 0 on http://0.0.0.0:8081", "Application startup complete."} {
			if !strings.Contains(string(out), want) {
				t.Errorf("kubectl logs lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("LoadSpreadsAcrossPods", func(t *testing.T) { loadSpreads(t, pods) })
	t.Run("DCGMPodsCarryTheWorkloadLabels", func(t *testing.T) { dcgmLabels(t, pods) })
	t.Run("ScaleDownStopsTheServer", func(t *testing.T) {
		sc, err := tw.Client.AppsV1().Deployments("default").GetScale(ctx, "vllm-gemma-deployment", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc.Spec.Replicas = 1
		if _, err := tw.Client.AppsV1().Deployments("default").UpdateScale(ctx, "vllm-gemma-deployment", sc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		left := waitPods(t, "default", "app=gemma-server", 1, nil)
		gone := pods[0].Name
		if left[0].Name == gone {
			gone = pods[1].Name
		}
		err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return tw.Sim.Server("default", gone) == nil, nil
		})
		if err != nil || tw.Sim.Server("default", left[0].Name) == nil {
			t.Errorf("after scale-down: server of deleted pod %s still runs (%v), or that of %s stopped", gone, err, left[0].Name)
		}
	})
}

func metricsThroughPortForward(t *testing.T, pod string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := kubectl(ctx, "port-forward", "pod/"+pod, ":8081", "--address", "127.0.0.1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8081`)
	sc := bufio.NewScanner(out)
	var local string
	for local == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			local = m[1]
		}
	}
	if local == "" {
		t.Fatal("kubectl port-forward printed no local port")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	resp, err := http.Get("http://127.0.0.1:" + local + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if want := `vllm:num_requests_running{engine="0",model_name="google/gemma-3-1b-it"} 0`; !strings.Contains(string(b), want) {
		t.Errorf("/metrics through kubectl port-forward lacks %q:\n%.1500s", want, b)
	}
}

func loadSpreads(t *testing.T, pods []corev1.Pod) {
	// The load driver follows the Service's EndpointSlices, as a Service
	// would: wait until they list every pod as ready, or a loaded machine
	// sends all the load to the first pod.
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		slices, err := tw.Client.DiscoveryV1().EndpointSlices("default").List(ctx,
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + tutorial.ServiceName})
		if err != nil {
			return false, nil
		}
		ready := map[string]bool{}
		for _, sl := range slices.Items {
			for _, ep := range sl.Endpoints {
				if ep.TargetRef != nil && ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					ready[ep.TargetRef.Name] = true
				}
			}
		}
		for _, p := range pods {
			if !ready[p.Name] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the Service's EndpointSlices never listed all %d pods as ready: %v", len(pods), err)
	}
	res, err := load.Run(context.Background(), load.Target{Client: tw.Client, Namespace: "default", Service: tutorial.ServiceName,
		EgressSocket: tw.EgressSocket}, load.Options{Concurrency: 6, Requests: 60, MaxTokens: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %s", res)
	if res.Errors != 0 || res.Requests != 60 {
		t.Fatalf("%d requests, %d errors: %v", res.Requests, res.Errors, res.ErrorSamples)
	}
	for _, p := range pods {
		if n := res.ByPod[p.Name]; n < 20 {
			t.Errorf("pod %s served %d of 60 requests, want about half", p.Name, n)
		}
		body := proxyGet(t, "default", p.Name, 8081, "metrics")
		if !regexp.MustCompile(`vllm:generation_tokens_total\{engine="0",model_name="google/gemma-3-1b-it"\} [1-9]`).MatchString(body) {
			t.Errorf("pod %s generated no tokens:\n%.1500s", p.Name, body)
		}
	}
}

func dcgmLabels(t *testing.T, vllmPods []corev1.Pod) {
	dcgmPods := waitPods(t, runner.DCGMNamespace, "app.kubernetes.io/name="+runner.DCGMAppLabel, 2, nil)
	byNode := map[string]string{}
	for _, p := range vllmPods {
		byNode[p.Spec.NodeName] = p.Name
	}
	for _, d := range dcgmPods {
		body := proxyGet(t, d.Namespace, d.Name, runner.DCGMPort, "metrics")
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("DCGM pod %s: metrics do not parse: %v", d.Name, err)
		}
		want := map[string]string{"container": "inference-server", "namespace": "default", "pod": byNode[d.Spec.NodeName],
			"Hostname": d.Spec.NodeName, "gpu": "0", "modelName": "NVIDIA L4"}
		for _, m := range []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE"} {
			f := fams[m]
			if f == nil || len(f.Metric) != 1 {
				t.Errorf("DCGM pod %s: want one %s series (one GPU), got %v", d.Name, m, f)
				continue
			}
			got := map[string]string{}
			for _, l := range f.Metric[0].Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("DCGM pod %s: %s label %s = %q, want %q", d.Name, m, k, got[k], v)
				}
			}
		}
	}
}
