package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
)

var (
	podMonitoringGVR        = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "podmonitorings"}
	clusterPodMonitoringGVR = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterpodmonitorings"}
)

// checkScrapers: no other PodMonitoring in the namespace, and no
// ClusterPodMonitoring, selects the vLLM pods. The adapter sums every
// series with the same namespace and pod, so a second scraper (the
// tutorial's own PodMonitoring, a user's, or ours renamed) makes the HPA see
// twice the load and over-scale.
func checkScrapers(ctx context.Context, env cluster.Env, in Input, r *Result) {
	d := in.Deployment
	if d == nil || env.Dynamic == nil {
		return
	}
	c := Check{Name: "other scrapers"}
	podLabels := labels.Set(d.Spec.Template.Labels)
	var others []string
	var adopt string
	for _, res := range []struct {
		gvr schema.GroupVersionResource
		ns  string
	}{{podMonitoringGVR, in.Options.Namespace}, {clusterPodMonitoringGVR, ""}} {
		list, err := env.Dynamic.Resource(res.gvr).Namespace(res.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // not served (the CRD check says so) or not readable
		}
		for i := range list.Items {
			m := &list.Items[i]
			if scraperOurs(m, in) || !selects(m, podLabels) {
				continue
			}
			if m.GetNamespace() != "" {
				others = append(others, "podmonitoring/"+m.GetName()+" -n "+m.GetNamespace())
				if adopt == "" {
					adopt = m.GetName()
				}
			} else {
				others = append(others, "clusterpodmonitoring/"+m.GetName())
			}
		}
	}
	sort.Strings(others)
	if len(others) == 0 {
		c.OK, c.Detail = true, fmt.Sprintf("no other PodMonitoring or ClusterPodMonitoring scrapes the pods of deployment %s", d.Name)
		r.add(c)
		return
	}
	c.Detail = fmt.Sprintf("%s also scrape(s) the pods of deployment %s: the adapter sums the series per pod, so the HPA would see %d× the metric and over-scale", strings.Join(others, ", "), d.Name, len(others)+1)
	c.Fix = "delete them (kubectl delete " + strings.Join(others, "; kubectl delete ") + ")"
	if adopt != "" && len(others) == 1 {
		c.Fix += fmt.Sprintf(", or adopt it: rerun with --adopt-podmonitoring %s (setup manages it under that name from then on, and cleanup deletes it)", adopt)
	}
	r.add(c)
}

// scraperOurs: our planned PodMonitoring (by name), or an object we made.
func scraperOurs(m *unstructured.Unstructured, in Input) bool {
	if apply.Ours(m) {
		return true
	}
	return m.GetNamespace() == in.Options.Namespace && m.GetName() == in.Options.PodMonitoringName
}

// selects: the monitoring's spec.selector matches the pod labels.
func selects(m *unstructured.Unstructured, pod labels.Set) bool {
	raw, ok, _ := unstructured.NestedMap(m.Object, "spec", "selector")
	if !ok {
		return false
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return false
	}
	var sel metav1.LabelSelector
	if err := json.Unmarshal(b, &sel); err != nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		return false
	}
	return s.Matches(pod)
}
