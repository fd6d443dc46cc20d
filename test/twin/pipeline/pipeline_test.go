package pipeline_test

import (
	"context"
	"fmt"
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
	env.InstallAdapter(t)
	env.GrantTutorialWay(t)
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

// Without monitoring.viewer the adapter's every query fails with the 403,
// the HPA reports FailedGetPodsMetric and the adapter log shows the 403;
// the direct-principal grant of today's GKE docs fixes it.
func TestHPAFailsWithoutIAM(t *testing.T) {
	env.InstallAdapter(t)
	env.SetProjectViewers(t) // nobody
	ns := "noiam"
	apply(t, tutorialWorkload(ns))
	newVLLMPods(t, ns).setLoad(2)
	apply(t, adaptertest.PodMonitoring(ns, 8081))
	apply(t, adaptertest.TutorialHPA(ns))
	eventually(t, 60*time.Second, "HPA FailedGetPodsMetric with the 403", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.Contains(c, "FailedGetPodsMetric") && strings.Contains(c, "Permission monitoring.timeSeries.list denied"), c
	})
	out, _ := kubectl(context.Background(), "", "-n", ns, "get", "events", "--field-selector", "reason=FailedGetPodsMetric", "-o", "name")
	if strings.TrimSpace(out) == "" {
		t.Errorf("no FailedGetPodsMetric event in %s", ns)
	}
	if logs := env.AdapterLogs(); !strings.Contains(logs, "Error 403: Permission monitoring.timeSeries.list denied") {
		t.Errorf("adapter log lacks the 403:\n%s", tail(logs, 5))
	}
	env.SetProjectViewers(t, env.Principal())
	eventually(t, 30*time.Second, "HPA computes the metric once the principal is granted", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
}

// A PodMonitoring on the wrong port yields no metric and the HPA cannot
// compute; the right port brings it back.
func TestWrongPortThenFixed(t *testing.T) {
	env.InstallAdapter(t)
	env.SetProjectViewers(t, env.Principal())
	ns := "wrongport"
	apply(t, tutorialWorkload(ns))
	newVLLMPods(t, ns).setLoad(2)
	apply(t, adaptertest.PodMonitoring(ns, 8000)) // vLLM's default port; the tutorial's server listens on 8081
	apply(t, adaptertest.TutorialHPA(ns))
	eventually(t, 60*time.Second, "HPA cannot get the metric", func() (bool, string) {
		c := env.HPACondition(ns, "gemma-server-hpa", "ScalingActive")
		return strings.HasPrefix(c, "False FailedGetPodsMetric") && strings.Contains(c, "could not find the metric"), c
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

// The stand-in serves only through a ready pod of the plugin's adapter
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
