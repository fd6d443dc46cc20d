package preflight

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/promtext"
)

// KV-cache usage: vLLM renamed the gauge (v0.10); older servers serve only
// the old name.
const (
	KVCacheMetric       = "vllm:kv_cache_usage_perc"
	LegacyKVCacheMetric = "vllm:gpu_cache_usage_perc"
)

// checkMetricsServed: one Ready vLLM pod, read through the apiserver's pod
// proxy (pods/proxy), serves every vLLM metric the
// HPA will scale on. A vLLM that serves only the old KV-cache name gets the
// HPA rewritten to it (Result.MetricRenames). What cannot be checked — no
// pod Ready yet, no permission (the apiserver's own 403 on the read: the
// check sends no access review, so a rerun of setup sends no POST), the pod unreachable through the apiserver
// (which is not the path Managed Prometheus scrapes) — is a warning.
func checkMetricsServed(ctx context.Context, env cluster.Env, in Input, r *Result) {
	d := in.Deployment
	need := vllmMetrics(in.Options.Metrics)
	if d == nil || len(need) == 0 {
		return
	}
	c := Check{Name: "vLLM metrics"}
	warn := func(format string, args ...any) {
		c.OK, c.Warn, c.Detail = true, true, fmt.Sprintf(format, args...)+"; not checked that vLLM serves "+strings.Join(need, ", ")
		r.add(c)
	}
	pod, pods, err := readyPod(ctx, env, in)
	switch {
	case apierrors.IsForbidden(err):
		warn("not allowed to list pods in %s", d.Namespace)
		return
	case err != nil:
		warn("cannot list the vLLM pods: %v", err)
		return
	case pod == nil:
		warn("no vLLM pod of deployment %s is Ready yet (%d pods)", d.Name, pods)
		return
	}
	port, ok := metricsPort(pod, in.Options.MetricsPort)
	if !ok {
		return // checkMetricsPort reports an undeclared port name
	}
	body, err := env.Kube.CoreV1().Pods(pod.Namespace).ProxyGet("", pod.Name, port, in.Options.MetricsPath, nil).DoRaw(ctx)
	if err != nil {
		var status apierrors.APIStatus
		if apierrors.IsForbidden(err) {
			warn("not allowed to get pods/proxy in %s", pod.Namespace)
			return
		}
		if errors.As(err, &status) && status.Status().Code == 404 {
			c.Detail = fmt.Sprintf("pod %s answers 404 for %s on port %s", pod.Name, in.Options.MetricsPath, port)
			c.Fix = "give vLLM's metrics path with --metrics-path (vLLM serves /metrics) and its port with --metrics-port"
			r.add(c)
			return
		}
		warn("cannot read %s of pod %s on port %s through the apiserver: %v", in.Options.MetricsPath, pod.Name, port, firstLine(err.Error()))
		return
	}
	served, perr := promtext.Names(body)
	var missing, notes []string
	for _, m := range need {
		switch {
		case served[m]:
		case m == KVCacheMetric && served[LegacyKVCacheMetric]:
			if r.MetricRenames == nil {
				r.MetricRenames = map[string]string{}
			}
			r.MetricRenames[m] = LegacyKVCacheMetric
			notes = append(notes, fmt.Sprintf("this vLLM predates the rename of %s: the HPA uses %s", m, LegacyKVCacheMetric))
		default:
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		c.Detail = fmt.Sprintf("pod %s does not serve %s on %s:%s", pod.Name, strings.Join(missing, ", "), port, in.Options.MetricsPath)
		if perr != nil {
			c.Detail += " (" + perr.Error() + ")"
		}
		c.Fix = "check that --metrics-port and --metrics-path point at vLLM's OpenAI server, or scale on another --metric (this vLLM version may not have it)"
		r.add(c)
		return
	}
	c.OK, c.Detail = true, fmt.Sprintf("pod %s serves %s", pod.Name, strings.Join(need, ", "))
	if len(notes) > 0 {
		c.Detail += "; note: " + strings.Join(notes, "; ")
	}
	r.add(c)
}

// vllmMetrics are the vLLM series the chosen metrics read (the DCGM one
// comes from the exporter, not from vLLM).
func vllmMetrics(ms []kustomize.Metric) []string {
	var out []string
	for _, m := range ms {
		k, ok := kustomize.LookupMetric(m.Name)
		if !ok || k.NeedsDCGM {
			continue
		}
		if parts := strings.Split(k.AdapterName, "|"); len(parts) == 3 {
			out = append(out, parts[1])
		}
	}
	sort.Strings(out)
	return out
}

// readyPod returns a Ready, not terminating pod of the Deployment and how
// many pods it has.
func readyPod(ctx context.Context, env cluster.Env, in Input) (*corev1.Pod, int, error) {
	sel := labels.SelectorFromSet(in.Options.PodSelector)
	if s := in.Deployment.Spec.Selector; len(in.Options.PodSelector) == 0 && s != nil {
		var err error
		if sel, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return nil, 0, err
		}
	}
	list, err := env.Kube.CoreV1().Pods(in.Deployment.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, 0, err
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return p, len(list.Items), nil
			}
		}
	}
	return nil, len(list.Items), nil
}

// metricsPort is the port number to proxy to (the pod proxy takes numbers,
// not port names).
func metricsPort(pod *corev1.Pod, port string) (string, bool) {
	if _, err := strconv.Atoi(port); err == nil {
		return port, true
	}
	n, ok := discover.DeclaredPort(&pod.Spec, port)
	return strconv.Itoa(int(n)), ok
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// RenameMetrics rewrites the metric names of the planned HPAs as the
// metrics check found vLLM serves them (the old KV-cache name on an old
// vLLM).
func (r *Result) RenameMetrics(objs []*unstructured.Unstructured) {
	if len(r.MetricRenames) == 0 {
		return
	}
	for _, o := range objs {
		if o.GetKind() != "HorizontalPodAutoscaler" {
			continue
		}
		metrics, _, _ := unstructured.NestedSlice(o.Object, "spec", "metrics")
		for _, m := range metrics {
			mm, ok := m.(map[string]any)
			if !ok {
				continue
			}
			name, _, _ := unstructured.NestedString(mm, "pods", "metric", "name")
			for from, to := range r.MetricRenames {
				name = strings.ReplaceAll(name, "|"+from+"|", "|"+to+"|")
			}
			if name != "" {
				_ = unstructured.SetNestedField(mm, name, "pods", "metric", "name")
			}
		}
		_ = unstructured.SetNestedSlice(o.Object, metrics, "spec", "metrics")
	}
}
