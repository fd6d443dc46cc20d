package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twinrun"
)

// The simulator's model (test/twin/sim/vllm DefaultModel; the twin is its
// own module, so the formula of vllm.Model is restated here): a decode step
// takes decodeBase + decodePerSeq·b + prefillPerToken·(prompt tokens
// admitted), one token per running request per step, and with c ≤ B
// closed-loop clients a request of P prompt and N output tokens takes
// L(c) = N·(decodeBase + decodePerSeq·c) + c·P·prefillPerToken (model time;
// the wall clock runs simSpeed times faster). B = min(--max-num-seqs, KV
// cache / (P+N)).
const (
	simSpeed        = 2.0
	decodeBase      = 15 * time.Millisecond
	decodePerSeq    = 100 * time.Microsecond
	prefillPerToken = 50 * time.Microsecond
	promptTokens    = 64
	outputTokens    = 32
)

func modelLatency(c int) time.Duration {
	l := outputTokens*(decodeBase+time.Duration(c)*decodePerSeq) + time.Duration(c*promptTokens)*prefillPerToken
	return time.Duration(float64(l) / simSpeed)
}

func modelStep(c int) time.Duration {
	return time.Duration(float64(decodeBase+time.Duration(c)*decodePerSeq) / simSpeed)
}

// simTwin starts a twin of its own with simulated vLLM servers, and a GPU
// node for each pod the subtests run (3 + 1 + 1 + 1).
func simTwin(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	dir := t.TempDir()
	state, kubeconfig := filepath.Join(dir, "twin"), filepath.Join(dir, "kubeconfig")
	twinBin, err := twinrun.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(twinBin, "up", "--simulate", "--state-dir", state, "--kubeconfig-out", kubeconfig,
		"--gpu-nodes", "6", "--model-load-delay", "1s", "--sim-speed", strconv.FormatFloat(simSpeed, 'g', -1, 64)).CombinedOutput()
	if err != nil {
		t.Fatalf("twin up --simulate: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(twinBin, "down", "--state-dir", state).CombinedOutput(); err != nil {
			t.Errorf("twin down: %v\n%s", err, out)
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubeconfig, kubernetes.NewForConfigOrDie(cfg)
}

// simDeployment creates a vLLM Deployment (simulated by the twin) and a
// Service in front of it, on port 8000.
func simDeployment(t *testing.T, kube kubernetes.Interface, ns, name string, replicas int32, args ...string) {
	t.Helper()
	simDeploymentSelecting(t, kube, ns, name, replicas, &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, args...)
}

// simDeploymentSelecting is simDeployment with the Deployment's selector
// given (its pods are labelled app=NAME).
func simDeploymentSelecting(t *testing.T, kube kubernetes.Interface, ns, name string, replicas int32, sel *metav1.LabelSelector, args ...string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	gpu := corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: sel,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "inference-server", Image: "vllm/vllm-openai:latest",
						Args:      append([]string{"--model=google/gemma-3-1b-it", "--port=8000"}, args...),
						Ports:     []corev1.ContainerPort{{ContainerPort: 8000, Name: "http"}},
						Resources: corev1.ResourceRequirements{Requests: gpu, Limits: gpu},
					}},
					Tolerations:  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					NodeSelector: map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"},
				},
			},
		},
	}
	if _, err := kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if replicas == 0 {
		return
	}
	eventually(t, 90*time.Second, fmt.Sprintf("%d ready endpoints of service %s", replicas, name), func(ctx context.Context) string {
		list, err := kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		if err != nil {
			return err.Error()
		}
		n := 0
		for _, es := range list.Items {
			for _, ep := range es.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					n++
				}
			}
		}
		if n != int(replicas) {
			return fmt.Sprintf("%d ready", n)
		}
		return ""
	})
}

// demoTwin starts `twin up --demo` of its own with the given flags (the
// tutorial's Deployment and Service, the metrics pipeline, the local Google
// API server whose endpoints it sets for the test), stopped at cleanup.
func demoTwin(t *testing.T, flags ...string) (string, kubernetes.Interface) {
	t.Helper()
	dir := t.TempDir()
	state, kubeconfig := filepath.Join(dir, "twin"), filepath.Join(dir, "kubeconfig")
	twinBin, err := twinrun.Binary()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"up", "--demo", "--state-dir", state, "--kubeconfig-out", kubeconfig}, flags...)
	if out, err := exec.Command(twinBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("twin up --demo: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(twinBin, "down", "--state-dir", state).CombinedOutput(); err != nil {
			t.Errorf("twin down: %v\n%s", err, out)
		}
	})
	setEnvFile(t, filepath.Join(state, "twin.env"))
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubeconfig, kubernetes.NewForConfigOrDie(cfg)
}

type loadJSON struct {
	Stages []struct {
		Requests   int                   `json:"requests"`
		OK         int                   `json:"ok"`
		Errors     map[string]int        `json:"errors"`
		ByEndpoint map[string]int        `json:"byEndpoint"`
		E2E        struct{ P50 float64 } `json:"e2eSeconds"`
		ITL        struct{ P50 float64 } `json:"itlSeconds"`
		TTFT       struct{ P50 float64 } `json:"ttftSeconds"`
	} `json:"stages"`
}

func within(got, want time.Duration, lo, hi float64) bool {
	return float64(got) >= lo*float64(want) && float64(got) <= hi*float64(want)
}

// TestLoadTuneSimulated drives the plugin's load and tune verbs at the
// twin's simulated vLLM servers and checks the numbers against the
// simulator's stated model.
func TestLoadTuneSimulated(t *testing.T) {
	needE2E(t)
	kubeconfig, kube := simTwin(t)
	ns := "load"
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	common := []string{"-n", ns, "--prompt-tokens", strconv.Itoa(promptTokens), "--output-tokens", strconv.Itoa(outputTokens)}

	t.Run("ServiceReachesEveryPodAndAgreesWithTheModel", func(t *testing.T) {
		simDeployment(t, kube, ns, "vllm", 3)
		// 6 clients over 3 pods: 2 per pod.
		r := plugin(t, kubeconfig, append([]string{"load", "svc/vllm", "--concurrency", "6", "--duration", "15s", "-o", "json"}, common...)...)
		if r.code != 0 {
			t.Fatalf("load: %s", r)
		}
		var rep loadJSON
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Stages) != 1 {
			t.Fatalf("report: %v\n%s", err, r.stdout)
		}
		st := rep.Stages[0]
		if len(st.ByEndpoint) != 3 || len(st.Errors) != 0 || st.OK < 60 {
			t.Fatalf("served by %v, errors %v, ok %d: want all 3 pods, no errors", st.ByEndpoint, st.Errors, st.OK)
		}
		for pod, n := range st.ByEndpoint {
			if n < st.OK/6 {
				t.Errorf("pod %s served %d of %d requests: the spread is uneven", pod, n, st.OK)
			}
		}
		e2e := time.Duration(st.E2E.P50 * float64(time.Second))
		itl := time.Duration(st.ITL.P50 * float64(time.Second))
		// The model ignores the wait for the step in progress (0–20% more);
		// the port-forward and a busy machine add some: medians within
		// 0.9–1.6× of the formula.
		if !within(e2e, modelLatency(2), 0.9, 1.6) {
			t.Errorf("e2e p50 %s, the model predicts %s at 2 clients per pod", e2e, modelLatency(2))
		}
		if !within(itl, modelStep(2), 0.9, 1.6) {
			t.Errorf("inter-token p50 %s, the model's decode step is %s at batch 2", itl, modelStep(2))
		}
		t.Logf("e2e p50 %s (model %s), itl p50 %s (model %s), spread %v", e2e, modelLatency(2), itl, modelStep(2), st.ByEndpoint)
	})

	t.Run("NoReadyEndpoints", func(t *testing.T) {
		simDeployment(t, kube, ns, "empty", 0)
		r := plugin(t, kubeconfig, "load", "svc/empty", "-n", ns, "--duration", "10s")
		if r.code != 1 || !strings.Contains(r.stderr, "service load/empty has no ready endpoints") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("want a one-line error: %s", r)
		}
		r = plugin(t, kubeconfig, "load", "svc/vllm", "-n", ns, "--duration", "10s", "--model", "llama")
		if r.code != 1 || !strings.Contains(r.stderr, `model "llama" is not served`) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("want a one-line error: %s", r)
		}
	})

	t.Run("DeploymentSelectingWithMatchExpressions", func(t *testing.T) {
		// The spare GPU node: a Deployment whose selector has no
		// matchLabels is a target of load and tune like any other.
		sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"exprs"}}}}
		simDeploymentSelecting(t, kube, ns, "exprs", 1, sel)
		r := plugin(t, kubeconfig, append([]string{"load", "deploy/exprs", "--concurrency", "2", "--duration", "4s", "-o", "json"}, common...)...)
		if r.code != 0 {
			t.Fatalf("load: %s", r)
		}
		var rep loadJSON
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Stages) != 1 {
			t.Fatalf("report: %v\n%s", err, r.stdout)
		}
		if st := rep.Stages[0]; st.OK < 10 || len(st.Errors) != 0 || len(st.ByEndpoint) != 1 {
			t.Errorf("load deploy/exprs: ok %d, errors %v, served by %v: want one pod, no errors", st.OK, st.Errors, st.ByEndpoint)
		}
		r = plugin(t, kubeconfig, append([]string{"tune", "exprs", "--max-concurrency", "2", "--stage-duration", "2s"}, common...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "--metric running=") {
			t.Errorf("tune exprs: %s", r)
		}
	})

	t.Run("TuneFindsTheKnee", func(t *testing.T) {
		// --max-num-seqs 8: the knee is B = 8; tune must recommend
		// running ≈ 8 / 1.1 = 7.3, within 20%.
		simDeployment(t, kube, ns, "knee", 1, "--max-num-seqs=8")
		r := plugin(t, kubeconfig, append([]string{"tune", "knee", "--stage-duration", "4s", "--max-duration", "3m"}, common...)...)
		if r.code != 0 {
			t.Fatalf("tune: %s", r)
		}
		m := regexp.MustCompile(`--metric running=(\d+)`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no recommendation:\n%s", r.stdout)
		}
		got, _ := strconv.Atoi(m[1])
		want := 8 / 1.1
		if float64(got) < 0.8*want || float64(got) > 1.2*want {
			t.Errorf("recommended running=%d, the model predicts %.1f (knee 8 less 10%%)", got, want)
		}
		mustContain(t, "tune output", r.stdout, "saturated", "HPA diff", "kubectl infer-hpa setup knee -n load --metric running=")
	})

	t.Run("TuneWithinSLO", func(t *testing.T) {
		// Long prompts make latency climb below the knee (B = 16): with
		// P = 1024, N = 32 the model gives L(c) = 240ms + 27.2ms·c (wall,
		// speed 2). For e2e-p50 ≤ 541ms it allows c ≤ 11.07, so running
		// ≈ 11.07 / 1.1 = 10.1; tune must land within 20% of that.
		simDeployment(t, kube, ns, "slo", 1, "--max-num-seqs=16")
		const p, n, slo = 1024, 32, 541 * time.Millisecond
		lat := func(c float64) float64 { // ms, wall
			return (n*(15+0.1*c) + c*p*0.05) / simSpeed
		}
		cStar := (float64(slo.Milliseconds())*simSpeed - n*15) / (n*0.1 + p*0.05)
		if l := lat(cStar); l < 540 || l > 542 {
			t.Fatalf("formula check: L(%.2f) = %.1fms", cStar, l)
		}
		r := plugin(t, kubeconfig, "tune", "slo", "-n", ns, "--stage-duration", "4s", "--max-duration", "3m",
			"--prompt-tokens", strconv.Itoa(p), "--output-tokens", strconv.Itoa(n), "--slo", "e2e-p50="+slo.String())
		if r.code != 0 {
			t.Fatalf("tune: %s", r)
		}
		m := regexp.MustCompile(`--metric running=(\d+)`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no recommendation:\n%s", r.stdout)
		}
		got, _ := strconv.Atoi(m[1])
		want := cStar / 1.1
		if float64(got) < 0.8*want || float64(got) > 1.2*want {
			t.Errorf("recommended running=%d, the model predicts %.1f for e2e-p50 ≤ %s", got, want, slo)
		}
		mustContain(t, "tune output", r.stdout, "e2e-p50")
	})

	t.Run("InterruptPrintsPartialSummary", func(t *testing.T) {
		bin := os.Getenv("INFER_HPA_PLUGIN_BIN") // hack/ci-e2e.sh builds it
		if bin == "" {
			bin = filepath.Join(t.TempDir(), "kubectl-infer_hpa")
			if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kubectl-infer-hpa").CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
		}
		cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig, "load", "svc/vllm", "--concurrency", "3", "--duration", "5m"}, common...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("load did not stop within 15s of ctrl-c\n%s", stderr.String())
		}
		if cmd.ProcessState.ExitCode() != 130 || !strings.Contains(stdout.String(), "interrupted after") || !strings.Contains(stdout.String(), "c=3") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
		}
	})
}

// TestTuneApplySimulated: on `twin up --demo` (the tutorial's Deployment,
// the metrics pipeline and the local Google API server), `tune --apply`
// runs setup with what it recommends, and a second tune shows the HPA diff
// against that live HPA without changing it.
func TestTuneApplySimulated(t *testing.T) {
	needE2E(t)
	kubeconfig, kube := demoTwin(t, "--gpu-nodes", "2", "--model-load-delay", "1s", "--sim-speed", "2")
	waitVLLMReady(t, kube)
	args := []string{"tune", "-n", "default", "--max-concurrency", "4", "--stage-duration", "2s", "--output-tokens", "16"}
	r := plugin(t, kubeconfig, append(args, "--apply")...)
	if r.code != 0 {
		t.Fatalf("tune --apply: %s", r)
	}
	t.Cleanup(func() {
		if r := plugin(t, kubeconfig, "cleanup", "-n", "default", "--iam"); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	})
	m := regexp.MustCompile(`--metric running=(\d+)`).FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "reached --max-concurrency 4 within the limits") || !strings.Contains(r.stdout, "setup complete") {
		t.Fatalf("tune --apply output:\n%s", r.stdout)
	}
	hpa, err := kube.AutoscalingV2().HorizontalPodAutoscalers("default").Get(context.Background(), vllmName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the HPA setup applied: %v", err)
	}
	if got := hpa.Spec.Metrics[0].Pods.Target.AverageValue.String(); got != m[1] {
		t.Errorf("HPA target %s, tune recommended running=%s", got, m[1])
	}
	// Without --apply: only the diff; the setup line keeps the live HPA's --max.
	r = plugin(t, kubeconfig, append(args, "--max-concurrency", "1")...)
	if r.code != 0 || !strings.Contains(r.stdout, "--max 5") || !strings.Contains(r.stdout, "HPA diff") || strings.Contains(r.stdout, "setup complete") {
		t.Errorf("tune without --apply: %s", r)
	}
	after, err := kube.AutoscalingV2().HorizontalPodAutoscalers("default").Get(context.Background(), vllmName, metav1.GetOptions{})
	if err != nil || after.ResourceVersion != hpa.ResourceVersion {
		t.Errorf("tune without --apply changed the HPA (%v)", err)
	}
}
