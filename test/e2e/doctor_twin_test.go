package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// EnvDoctorCapture names a file the doctor test writes its failing and
// healthy tables to (the README's captures come from there).
const EnvDoctorCapture = "INFER_HPA_DOCTOR_CAPTURE"

type doctorCheck struct {
	ID, Link, Status, Message, Fix, Cause string
}

type doctorRun struct {
	r      result
	checks []doctorCheck
}

func doctor(t *testing.T, ns string, extra ...string) doctorRun {
	t.Helper()
	return doctorOn(t, cluster.kubeconfig, ns, extra...)
}

func (d doctorRun) fails() []string {
	var out []string
	for _, c := range d.checks {
		if c.Status == "FAIL" {
			out = append(out, c.ID)
		}
	}
	return out
}

func (d doctorRun) check(id string) doctorCheck {
	for _, c := range d.checks {
		if c.ID == id {
			return c
		}
	}
	return doctorCheck{}
}

func (d doctorRun) table() string {
	var b strings.Builder
	for _, c := range d.checks {
		b.WriteString("[" + c.Status + "] " + c.ID + ": " + c.Message + "\n")
		if c.Fix != "" && c.Status != "ok" {
			b.WriteString("    fix: " + c.Fix + "\n")
		}
	}
	return b.String()
}

// healthyDoctor waits until doctor finds no failure on the shared twin
// (the HPA needs a sync or two after setup) and returns that run.
func healthyDoctor(t *testing.T, ns string) doctorRun {
	t.Helper()
	return healthyDoctorOn(t, cluster.kubeconfig, ns)
}

// TestDoctorNamesTheBrokenLink sets the tutorial's chain up on the twin,
// breaks one link at a time and checks that doctor names that link (and
// only that one as FAIL) with the right fix and exit 1, then that it is
// healthy again (exit 0) once the link is repaired. These breaks do not
// depend on the adapter's own behaviour.
func TestDoctorNamesTheBrokenLink(t *testing.T) {
	needE2E(t)
	w := newTutorialWorld(t, "e2e-doctor")
	ns := w.ns
	ctx := context.Background()
	healthy := healthyDoctor(t, ns)
	t.Logf("healthy chain:\n%s", healthy.table())
	pmName := vllmName + "-vllm"

	breaks := []struct {
		name            string
		breakIt, repair func(t *testing.T)
		want            []string
		fix             string
	}{
		{"wrong metrics port in the PodMonitoring", func(t *testing.T) {
			patch(t, podMonGVR, ns, pmName, `[{"op":"replace","path":"/spec/endpoints/0/port","value":9090}]`)
		}, func(t *testing.T) {
			patch(t, podMonGVR, ns, pmName, `[{"op":"replace","path":"/spec/endpoints/0/port","value":8081}]`)
		}, []string{"scraping/podmonitoring"}, "--metrics-port 8081"},
		{"a second PodMonitoring on the same pods", func(t *testing.T) {
			pm := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
				"metadata": map[string]any{"name": "team-scrape", "namespace": ns},
				"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "gemma-server"}},
					"endpoints": []any{map[string]any{"port": int64(8081), "interval": "30s"}}},
			}}
			if _, err := cluster.dyn.Resource(podMonGVR).Namespace(ns).Create(ctx, pm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			if err := cluster.dyn.Resource(podMonGVR).Namespace(ns).Delete(ctx, "team-scrape", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"scraping/double-count"}, "delete podmonitoring/team-scrape"},
		{"the HPA's metric renamed to one that does not exist", func(t *testing.T) {
			patch(t, hpaGVR, ns, vllmName, `[{"op":"replace","path":"/spec/metrics/0/pods/metric/name","value":"prometheus.googleapis.com|vllm:num_requests_runnin|gauge"}]`)
		}, func(t *testing.T) {
			patch(t, hpaGVR, ns, vllmName, `[{"op":"replace","path":"/spec/metrics/0/pods/metric/name","value":"`+runningMetric+`"}]`)
		}, []string{"hpa/metric-names"}, "kubectl infer-hpa setup " + vllmName},
		{"the adapter scaled to 0", func(t *testing.T) {
			scaleAdapter(t, 0)
		}, func(t *testing.T) {
			scaleAdapter(t, 1)
		}, []string{"adapter/deployment"}, "--replicas=1"},
		{"another adapter owns the APIServices", func(t *testing.T) {
			for _, n := range []string{"v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"} {
				patch(t, apiServiceGVR, "", n, `[{"op":"replace","path":"/spec/service/namespace","value":"monitoring"},{"op":"replace","path":"/spec/service/name","value":"prometheus-adapter"}]`)
			}
		}, func(t *testing.T) {
			for _, n := range []string{"v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"} {
				patch(t, apiServiceGVR, "", n, `[{"op":"replace","path":"/spec/service/namespace","value":"custom-metrics"},{"op":"replace","path":"/spec/service/name","value":"custom-metrics-stackdriver-adapter"}]`)
			}
		}, []string{"metrics-api/v1beta1.custom.metrics.k8s.io", "metrics-api/v1beta2.custom.metrics.k8s.io"}, "--force-conflicts"},
		{"the vLLM pods not Ready", func(t *testing.T) {
			setVLLMReady(t, ns, corev1.ConditionFalse)
		}, func(t *testing.T) {
			setVLLMReady(t, ns, corev1.ConditionTrue)
		}, []string{"workload/deployment"}, "describe pod"},
	}
	var capture strings.Builder
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			b.breakIt(t)
			var got doctorRun
			eventually(t, 60*time.Second, "doctor names "+strings.Join(b.want, ", "), func(context.Context) string {
				got = doctor(t, ns)
				if strings.Join(got.fails(), ",") != strings.Join(b.want, ",") || got.r.code != 1 {
					return "exit " + got.r.stderr + " FAIL " + strings.Join(got.fails(), ",") + "\n" + got.table()
				}
				return ""
			})
			if fix := got.check(b.want[0]).Fix; !strings.Contains(fix, b.fix) {
				t.Errorf("fix %q lacks %q", fix, b.fix)
			}
			if b.name == "the adapter scaled to 0" {
				r := plugin(t, cluster.kubeconfig, "doctor", vllmName, "-n", ns)
				capture.WriteString("$ kubectl infer-hpa doctor " + vllmName + " -n " + ns + "\n" + r.stdout + "\n")
			}
			b.repair(t)
			healthyDoctor(t, ns)
		})
	}
	r := plugin(t, cluster.kubeconfig, "doctor", vllmName, "-n", ns)
	capture.WriteString("$ kubectl infer-hpa doctor " + vllmName + " -n " + ns + "\n" + r.stdout)
	if path := os.Getenv(EnvDoctorCapture); path != "" {
		if err := os.WriteFile(path, []byte(capture.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func patch(t *testing.T, gvr schemaGVR, ns, name, jsonPatch string) {
	t.Helper()
	res := cluster.dyn.Resource(gvr)
	var err error
	if ns == "" {
		_, err = res.Patch(context.Background(), name, types.JSONPatchType, []byte(jsonPatch), metav1.PatchOptions{})
	} else {
		_, err = res.Namespace(ns).Patch(context.Background(), name, types.JSONPatchType, []byte(jsonPatch), metav1.PatchOptions{})
	}
	if err != nil {
		t.Fatalf("patch %s %s: %v", gvr.Resource, name, err)
	}
}

func scaleAdapter(t *testing.T, n int32) {
	t.Helper()
	ctx := context.Background()
	s, err := cluster.kube.AppsV1().Deployments("custom-metrics").GetScale(ctx, "custom-metrics-stackdriver-adapter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = n
	if _, err := cluster.kube.AppsV1().Deployments("custom-metrics").UpdateScale(ctx, "custom-metrics-stackdriver-adapter", s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

type schemaGVR = schema.GroupVersionResource

// setVLLMReady sets the Ready condition of the vLLM pods, as a failing
// readiness probe would (kwok leaves a pod's status alone once it runs).
func setVLLMReady(t *testing.T, ns string, st corev1.ConditionStatus) {
	t.Helper()
	ctx := context.Background()
	pods, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gemma-server"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		for j := range p.Status.Conditions {
			if c := &p.Status.Conditions[j]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status = st
			}
		}
		for j := range p.Status.ContainerStatuses {
			p.Status.ContainerStatuses[j].Ready = st == corev1.ConditionTrue
		}
		if _, err := cluster.kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// When setup's last wait fails it points at doctor.
func TestSetupTimeoutSuggestsDoctor(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-doctor-hint")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--timeout", "3s")
	if r.code == 0 {
		t.Fatalf("setup succeeded without an adapter: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "timed out after 3s", "to see which link of the chain is broken: kubectl infer-hpa doctor vllm -n "+ns)
	t.Cleanup(func() { plugin(t, cluster.kubeconfig, "cleanup", "-n", ns) })
}
