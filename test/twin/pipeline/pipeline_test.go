package pipeline_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
)

// The tutorial's objects with IAM granted the tutorial's way (GSA +
// workloadIdentityUser + KSA annotation): load scales the Deployment from 1
// up, and it scales back down when the load stops.
func TestTutorialHPAScalesUpAndDown(t *testing.T) {
	env.GrantTutorialWay(t)
	env.InstallAdapter(t)
	ns := "tutorial"
	apply(t, tutorialWorkload(ns))
	pods := newVLLMPods(t, ns)
	apply(t, adaptertest.PodMonitoring(ns, 8081))
	apply(t, adaptertest.TutorialHPA(ns))

	eventually(t, 30*time.Second, "PodMonitoring ConfigurationCreateSuccess", func() (bool, string) {
		out, _ := kubectl(context.Background(), "", "-n", ns, "get", "podmonitoring", "gemma-server", "-o",
			`jsonpath={.status.conditions[?(@.type=="ConfigurationCreateSuccess")].status}`)
		return out == "True", out
	})
	eventually(t, 30*time.Second, "HPA computes the metric at load 0", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
	began := time.Now()
	pods.setLoad(16) // 16 running requests over the pods: 4 pods at the target 4
	eventually(t, 90*time.Second, "scale up to 4", func() (bool, string) {
		n, msg := replicas(ns)
		return n == 4, msg
	})
	t.Logf("scaled 1 -> 4 in %s", time.Since(began).Round(time.Second))
	began = time.Now()
	pods.setLoad(0)
	eventually(t, 90*time.Second, "scale down to 1", func() (bool, string) {
		n, msg := replicas(ns)
		return n == 1, msg
	})
	t.Logf("scaled 4 -> 1 in %s", time.Since(began).Round(time.Second))
	logs := env.AdapterLogs()
	if !strings.Contains(logs, `Query with filter(s): "metric.labels.pod = `) ||
		!strings.Contains(logs, `metric.type = \"prometheus.googleapis.com/vllm:num_requests_running/gauge\"`) ||
		!strings.Contains(logs, `resource.labels.namespace = \"tutorial\"`) {
		t.Errorf("adapter log lacks the query lines:\n%s", tail(logs, 5))
	}
}

// A role lost while the adapter runs: the real adapter keeps running; a
// query fails as a 500 carrying Cloud Monitoring's 403 (or, when the
// metric's kind is not cached, as NotFound on the descriptor read), the HPA
// reports FailedGetPodsMetric; the direct-principal grant of today's GKE
// docs brings it back without a restart.
func TestRoleLostLater(t *testing.T) {
	env.UsePrincipal(t)
	env.InstallAdapter(t)
	ns := "noiam"
	apply(t, tutorialWorkload(ns))
	newVLLMPods(t, ns).setLoad(2)
	apply(t, adaptertest.PodMonitoring(ns, 8081))
	apply(t, adaptertest.TutorialHPA(ns))
	eventually(t, 60*time.Second, "HPA computes the metric", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
	env.SetProjectViewers(t) // nobody
	eventually(t, 60*time.Second, "HPA FailedGetPodsMetric with the 403", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.Contains(c, "FailedGetPodsMetric") && (strings.Contains(c, "googleapi: Error 403: Permission monitoring.timeSeries.list denied") ||
			strings.Contains(c, "could not find the descriptor")), c
	})
	out, _ := kubectl(context.Background(), "", "-n", ns, "get", "events", "--field-selector", "reason=FailedGetPodsMetric", "-o", "name")
	if strings.TrimSpace(out) == "" {
		t.Errorf("no FailedGetPodsMetric event in %s", ns)
	}
	env.UsePrincipal(t)
	eventually(t, 30*time.Second, "HPA computes the metric once the principal is granted again", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
}

// Without the role the real adapter exits at start-up (its descriptor list
// is denied): the pod crash-loops, restartCount grows, the fatal line is in
// `kubectl logs --previous`; granting the role lets the next restart stay
// up and the APIService become Available.
func TestCrashLoopsWithoutTheRole(t *testing.T) {
	env.UsePrincipal(t)
	env.InstallAdapter(t)
	env.SetProjectViewers(t) // nobody
	ctx := context.Background()
	if _, err := kubectl(ctx, "", "-n", "custom-metrics", "delete", "pod", "-l", "k8s-app=custom-metrics-stackdriver-adapter", "--wait=false"); err != nil {
		t.Fatal(err)
	}
	var pod string
	eventually(t, 60*time.Second, "a new adapter pod restarted twice, last exit 255", func() (bool, string) {
		out, _ := kubectl(ctx, "", "-n", "custom-metrics", "get", "pod", "-l", "k8s-app=custom-metrics-stackdriver-adapter",
			"-o", `jsonpath={range .items[?(@.metadata.deletionTimestamp)]}deleting {end}{range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].state.waiting.reason};{end}`)
		f := strings.Fields(strings.TrimSuffix(out, ";"))
		if strings.Contains(out, "deleting") || len(f) != 5 {
			return false, out
		}
		pod = f[0]
		n, _ := strconv.Atoi(f[1])
		return n >= 2 && f[2] == "255" && f[3] == "Error" && f[4] == "CrashLoopBackOff", out
	})
	prev, err := kubectl(ctx, "", "-n", "custom-metrics", "logs", pod, "--previous")
	if err != nil || !strings.Contains(prev, "Failed request to stackdriver api") ||
		!strings.Contains(prev, "Permission monitoring.metricDescriptors.list denied") {
		t.Errorf("kubectl logs --previous lacks the fatal line: %v\n%s", err, tail(prev, 5))
	}
	env.UsePrincipal(t)
	eventually(t, 60*time.Second, "adapter pod Ready after the grant", func() (bool, string) {
		out, _ := kubectl(ctx, "", "-n", "custom-metrics", "get", "pod", pod, "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].restartCount}`)
		return strings.HasPrefix(out, "True"), out
	})
	env.InstallAdapter(t) // APIService Available again
}

// A PodMonitoring on the wrong port yields no metric and the HPA cannot
// compute; the right port brings it back.
func TestWrongPortThenFixed(t *testing.T) {
	env.UsePrincipal(t)
	env.InstallAdapter(t)
	ns := "wrongport"
	apply(t, tutorialWorkload(ns))
	newVLLMPods(t, ns).setLoad(2)
	apply(t, adaptertest.PodMonitoring(ns, 8000)) // vLLM's default port; the tutorial's server listens on 8081
	apply(t, adaptertest.TutorialHPA(ns))
	eventually(t, 60*time.Second, "HPA cannot get the metric", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		// The real adapter: no series for the pods is a 200 with an empty
		// list (or NotFound when the metric has no descriptor at all).
		return strings.HasPrefix(c, "False FailedGetPodsMetric") &&
			(strings.Contains(c, "no metrics returned from custom metrics API") || strings.Contains(c, "could not find the descriptor")), c
	})
	eventually(t, 10*time.Second, "up == 0 for the wrong port", func() (bool, string) {
		up := col.Store.Select(time.Now().Add(-time.Minute), time.Now(), labels.MustNewMatcher(labels.MatchEqual, "__name__", "up"),
			labels.MustNewMatcher(labels.MatchEqual, "namespace", ns))
		return len(up) == 1 && up[0].Points[len(up[0].Points)-1].V == 0, fmt.Sprint(up)
	})
	apply(t, adaptertest.PodMonitoring(ns, 8081))
	eventually(t, 30*time.Second, "HPA recovers on the right port", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The adapter serves only through a ready pod of the plugin's adapter
// Deployment: scaled to zero, the APIService becomes unavailable.
func TestServesOnlyWithAReadyAdapterPod(t *testing.T) {
	env.InstallAdapter(t)
	scale := func(n string) {
		if _, err := kubectl(context.Background(), "", "-n", "custom-metrics", "scale", "deploy/custom-metrics-stackdriver-adapter", "--replicas="+n); err != nil {
			t.Fatal(err)
		}
	}
	scale("0")
	defer env.InstallAdapter(t)
	defer scale("1")
	eventually(t, 60*time.Second, "APIService unavailable without an adapter pod", func() (bool, string) {
		out, err := kubectl(context.Background(), "", "get", "apiservice", "v1beta2.custom.metrics.k8s.io",
			"-o", `jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].reason}`)
		return err == nil && strings.HasPrefix(out, "False"), out
	})
}
