package gmp

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var metav1UpdateOptions = metav1.UpdateOptions{FieldManager: "gmp-operator"}

// defaultMetadata are GMP's default targetLabels.metadata.
var defaultMetadata = []string{"pod", "container", "top_level_controller_name", "top_level_controller_type"}

// targets lists the scrape targets of a PodMonitoring (namespaced: only
// pods of its namespace) or ClusterPodMonitoring (all namespaces).
func (c *Collector) targets(u *unstructured.Unstructured, cluster bool) ([]*target, error) {
	var spec monitoringSpec
	if err := decodeSpec(u, &spec); err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(&spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	metadata := defaultMetadata
	if spec.TargetLabels.Metadata != nil {
		metadata = *spec.TargetLabels.Metadata
	}
	var out []*target
	for i, ep := range spec.Endpoints {
		interval, err := duration(ep.Interval, time.Minute)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d].interval: %w", i, err)
		}
		timeout, err := duration(ep.Timeout, interval)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d].timeout: %w", i, err)
		}
		rl, err := relabelConfigs(ep.MetricRelabeling)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d].%w", i, err)
		}
		path := ep.Path
		if path == "" {
			path = "/metrics"
		}
		for _, obj := range c.pods.GetStore().List() {
			pod := obj.(*corev1.Pod)
			if !cluster && pod.Namespace != u.GetNamespace() || !sel.Matches(k8slabels.Set(pod.Labels)) || !runningReady(pod) {
				continue
			}
			port, container, ok := resolvePort(pod, ep.Port)
			if !ok {
				continue // a named port the pod does not have: no target, as in GMP
			}
			b := labels.NewBuilder(labels.EmptyLabels())
			b.Set("project_id", c.opts.Project)
			b.Set("location", c.opts.Location)
			b.Set("cluster", c.opts.Cluster)
			b.Set("namespace", pod.Namespace)
			b.Set("job", u.GetName())
			b.Set("instance", pod.Name+":"+ep.Port.String())
			ctrlName, ctrlType := topLevelController(pod)
			meta := map[string]string{"namespace": pod.Namespace, "pod": pod.Name, "container": container, "node": pod.Spec.NodeName,
				"top_level_controller_name": ctrlName, "top_level_controller_type": ctrlType}
			for _, m := range metadata {
				b.Set(m, meta[m])
			}
			for _, fp := range spec.TargetLabels.FromPod {
				to := fp.To
				if to == "" {
					to = fp.From
				}
				b.Set(to, pod.Labels[fp.From])
			}
			out = append(out, &target{namespace: pod.Namespace, pod: pod.Name, port: port, path: path,
				interval: interval, timeout: timeout, labels: b.Labels(), relabel: rl})
		}
	}
	return out, nil
}

func runningReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// resolvePort finds the endpoint's port among the pod's container ports: by
// name (must exist) or by number (the declaring container, else the first
// container, since Prometheus also scrapes undeclared numeric ports).
func resolvePort(pod *corev1.Pod, p intstr.IntOrString) (int32, string, bool) {
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
				return cp.ContainerPort, c.Name, true
			}
		}
	}
	if p.Type == intstr.Int && len(pod.Spec.Containers) > 0 {
		return p.IntVal, pod.Spec.Containers[0].Name, true
	}
	return 0, "", false
}

var rsHash = regexp.MustCompile(`-[a-z0-9]{5,10}$`)

// topLevelController names the pod's top-level owner as GMP's labels do
// (a ReplicaSet owned by a Deployment counts as the Deployment).
func topLevelController(pod *corev1.Pod) (string, string) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return pod.Name, "Pod"
	}
	if ref.Kind == "ReplicaSet" && pod.Labels["pod-template-hash"] != "" {
		return rsHash.ReplaceAllString(ref.Name, ""), "Deployment"
	}
	return ref.Name, ref.Kind
}

// scrapeLoop scrapes one target at its interval until ctx ends. Each
// scrape writes its samples and `up` (1 or 0) with the scrape's timestamp.
func (c *Collector) scrapeLoop(ctx context.Context, t *target) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	lastErr := ""
	for {
		now := time.Now()
		err := c.scrape(ctx, t, now)
		up := 1.0
		if err != nil {
			up = 0
			if err.Error() != lastErr {
				c.log.Printf("scrape %s/%s port %d%s: %v", t.namespace, t.pod, t.port, t.path, err)
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		upLabels := labels.NewBuilder(t.labels).Set(model.MetricNameLabel, "up").Labels()
		c.Store.Append(upLabels, Gauge, now.UnixMilli(), up)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Collector) scrape(ctx context.Context, t *target, now time.Time) error {
	addr, err := c.opts.Resolve(t.namespace, t.pod, t.port)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	samples, err := scrapeOnce(sctx, c.http, addr, t.path)
	if err != nil {
		return err
	}
	for _, s := range samples {
		lset, ok := seriesLabels(s, t.labels, t.relabel)
		if ok {
			c.Store.Append(lset, s.kind, now.UnixMilli(), s.value)
		}
	}
	return nil
}
