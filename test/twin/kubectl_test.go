package twin_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

// kubectl runs the real kubectl against the twin.
func kubectl(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", tw.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+tw.Kubeconfig)
	return cmd
}

// startKubectl starts a long-running kubectl and streams its stdout lines;
// it is killed when the test ends.
func startKubectl(t *testing.T, ctx context.Context, args ...string) (<-chan string, *strings.Builder) {
	t.Helper()
	cmd := kubectl(ctx, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines, stderr
}

// runningPod creates a kwok pod on the CPU pool and waits for it to be Ready.
func runningPod(t *testing.T, name string, labels map[string]string, ports ...int32) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"cloud.google.com/gke-nodepool": "default-pool"},
			Containers:   []corev1.Container{{Name: "main", Image: "busybox"}},
		},
	}
	for _, p := range ports {
		pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: p})
	}
	if _, err := tw.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tw.Client.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := wait.PollUntilContextCancel(wctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		p, err := tw.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = p
		return p.Status.Phase == corev1.PodRunning && podReady(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s not ready: %v (phase %s)", name, err, pod.Status.Phase)
	}
	return pod
}

func TestKubectlLogsFollow(t *testing.T) {
	runningPod(t, "logger", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path, err := tw.PodLogFile(ctx, "default", "logger", "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := twin.AppendLog(path, "first line"); err != nil {
		t.Fatal(err)
	}
	lines, stderr := startKubectl(t, ctx, "logs", "-f", "logger", "-c", "main")
	expect := func(want string) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl logs -f ended before %q; stderr: %s", want, stderr.String())
			}
			if got != want {
				t.Fatalf("kubectl logs -f printed %q, want %q", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("kubectl logs -f: no %q within 20s; stderr: %s", want, stderr.String())
		}
	}
	expect("first line")
	// Lines appended after kubectl started arrive on the open stream.
	if err := twin.AppendLog(path, "appended while following"); err != nil {
		t.Fatal(err)
	}
	expect("appended while following")
}

func TestKubectlPortForward(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from loopback behind pod port, path %s", r.URL.Path)
	}))
	defer srv.Close()
	runningPod(t, "web", nil, 8080)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tw.ForwardPodPort(ctx, "default", "web", 8080, srv.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
	lines, stderr := startKubectl(t, ctx, "port-forward", "pod/web", ":8080", "--address", "127.0.0.1")
	local := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
		for l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				local <- m[1]
			}
		}
	}()
	var port string
	select {
	case port = <-local:
	case <-time.After(20 * time.Second):
		t.Fatalf("kubectl port-forward did not start; stderr: %s", stderr.String())
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/through-the-tunnel")
	if err != nil {
		t.Fatalf("GET through port-forward: %v; stderr: %s", err, stderr.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "hello from loopback behind pod port, path /through-the-tunnel"; string(body) != want {
		t.Errorf("body = %q, want %q", body, want)
	}
}

const aggGroup = "twin-test.infer-hpa.dev"

// TestAggregatedAPIThroughService registers an APIService backed by a
// normal ClusterIP Service whose endpoint is a kwok pod; the pod's port is
// a loopback HTTPS server. The aggregator reaches it through the egress
// proxy, marks it Available, and `kubectl get --raw` answers.
func TestAggregatedAPIThroughService(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/" + aggGroup + "/v1":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"%s/v1","resources":[{"name":"greetings","singularName":"greeting","namespaced":true,"kind":"Greeting","verbs":["get","list"]}]}`, aggGroup)
		case "/apis/" + aggGroup + "/v1/namespaces/default/greetings":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"kind":"GreetingList","apiVersion":"%s/v1","metadata":{},"items":[{"kind":"Greeting","apiVersion":"%s/v1","metadata":{"name":"from-loopback","namespace":"default"}}]}`, aggGroup, aggGroup)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{}
	srv.StartTLS()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	runningPod(t, "greeter", map[string]string{"app": "greeter"}, 8443)
	if err := tw.ForwardPodPort(ctx, "default", "greeter", 8443, srv.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "greeter", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "greeter"},
			Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}},
		},
	}
	if _, err := tw.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer tw.Client.CoreV1().Services("default").Delete(context.Background(), "greeter", metav1.DeleteOptions{})
	agg := aggregator.NewForConfigOrDie(tw.Config)
	port := int32(443)
	apisvc := &apiregv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: "v1." + aggGroup},
		Spec: apiregv1.APIServiceSpec{
			Group: aggGroup, Version: "v1",
			Service:               &apiregv1.ServiceReference{Namespace: "default", Name: "greeter", Port: &port},
			InsecureSkipTLSVerify: true, GroupPriorityMinimum: 1000, VersionPriority: 15,
		},
	}
	if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apisvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer agg.ApiregistrationV1().APIServices().Delete(context.Background(), apisvc.Name, metav1.DeleteOptions{})
	var last string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, apisvc.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiregv1.Available {
				last = fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
				return c.Status == apiregv1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("APIService not Available: %v (last: %s)", err, last)
	}
	out, err := kubectl(ctx, "get", "--raw", "/apis/"+aggGroup+"/v1/namespaces/default/greetings").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"name":"from-loopback"`) {
		t.Fatalf("kubectl get --raw: %v: %s", err, out)
	}
	if log := tw.Logs("egress-proxy", 200); !strings.Contains(log, "service default/greeter port 443 -> pod default/greeter port 8443") {
		t.Errorf("egress proxy log has no route through the Service:\n%s", log)
	}
}
