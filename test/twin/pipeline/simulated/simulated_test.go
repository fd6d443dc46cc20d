// Package simulated runs the metrics pipeline against the twin's
// simulation: the tutorial's vllm-gemma-deployment served by simulated vLLM
// servers on GPU nodes with the simulated DCGM exporter, driven by the load
// driver.
package simulated

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/load"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/tutorial"
)

var env *adaptertest.Env

func TestMain(m *testing.M) {
	twin.MainInNetNS()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tw, err := twin.Start(ctx, twin.Options{
		Log: os.Stderr, HPASyncPeriod: 2 * time.Second, GPUNodes: 4, GoogleAPI: true,
		Simulate: &runner.Options{Speed: 5, ModelLoadDelay: time.Second},
		Metrics:  &twin.MetricsOptions{IngestionDelay: time.Second},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin: start:", err)
		return 1
	}
	defer tw.Stop()
	if env, err = adaptertest.New(tw, "../../../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		for _, c := range []string{"kube-controller-manager", "metrics"} {
			fmt.Fprintf(os.Stderr, "--- %s log (tail)\n%s\n", c, tw.Logs(c, 30))
		}
	}
	return code
}

// The tutorial's Deployment and Service, the plugin's adapter manifests and
// GPU ClusterRules, the tutorial's PodMonitoring and HPA, IAM granted: under
// the load driver the HPA scales the Deployment from 1 up, the GPU metric
// reaches the vLLM pods, and when the load stops the HPA scales back to 1.
func TestTutorialUnderLoad(t *testing.T) {
	ctx := context.Background()
	tw := env.Twin
	ns := "demo"
	env.UsePrincipal(t)
	env.InstallAdapter(t)
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n")
	if _, err := tw.Client.CoreV1().Secrets(ns).Create(ctx, tutorial.Secret(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Client.AppsV1().Deployments(ns).Create(ctx, tutorial.Deployment(ns, 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Client.CoreV1().Services(ns).Create(ctx, tutorial.Service(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Apply(t, adaptertest.PodMonitoring(ns, tutorial.Port))
	env.Apply(t, adaptertest.TutorialHPA(ns))
	// GKE's DCGM ClusterPodMonitoring scrapes every 30s; 1s keeps the test short.
	if _, err := env.Kubectl(ctx, "", "patch", "clusterpodmonitoring", runner.DCGMAppLabel, "--type=json",
		"-p", `[{"op":"replace","path":"/spec/endpoints/0/interval","value":"1s"}]`); err != nil {
		t.Fatal(err)
	}
	gpuMetric, rules := env.GPUMetric(t)
	env.Apply(t, rules)
	adaptertest.Eventually(t, 60*time.Second, "HPA computes the metric", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})

	lctx, stopLoad := context.WithCancel(ctx)
	done := make(chan *load.Result, 1)
	go func() {
		res, err := load.Run(lctx, load.Target{Client: tw.Client, Namespace: ns, Service: tutorial.ServiceName, EgressSocket: tw.EgressSocket},
			load.Options{Concurrency: 16, Duration: 2 * time.Minute, MaxTokens: 64})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	began := time.Now()
	adaptertest.Eventually(t, 90*time.Second, "scale up under load", func() (bool, string) {
		n, msg := ready(ns)
		return n >= 3, msg
	})
	t.Logf("1 -> 3+ replicas under 16 concurrent requests in %s", time.Since(began).Round(time.Second))
	adaptertest.Eventually(t, 30*time.Second, "GPU utilisation of the vLLM pods through the custom metrics API", func() (bool, string) {
		out, err := env.Kubectl(ctx, "", "get", "--raw", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/"+ns+"/pods/*/"+
			url.PathEscape(gpuMetric)+"?labelSelector=app%3D"+tutorial.AppLabel)
		return err == nil && strings.Contains(out, `"name":"`+tutorial.DeploymentName), out
	})
	stopLoad()
	res := <-done
	if res != nil {
		t.Logf("load: %s", res)
	}
	began = time.Now()
	adaptertest.Eventually(t, 90*time.Second, "scale down after the load", func() (bool, string) {
		n, msg := ready(ns)
		return n == 1, msg
	})
	t.Logf("back to 1 replica in %s", time.Since(began).Round(time.Second))
}

func ready(ns string) (int32, string) {
	d, err := env.Twin.Client.AppsV1().Deployments(ns).Get(context.Background(), tutorial.DeploymentName, metav1.GetOptions{})
	if err != nil {
		return -1, err.Error()
	}
	return d.Status.ReadyReplicas, fmt.Sprintf("spec %d, ready %d; ScalingActive %s", *d.Spec.Replicas, d.Status.ReadyReplicas,
		env.HPACondition(ns, "gemma-server-hpa", "ScalingActive"))
}
