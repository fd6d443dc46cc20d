package doctor

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
)

// Managed Prometheus' kinds.
var (
	podMonitoringGVR        = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "podmonitorings"}
	clusterPodMonitoringGVR = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterpodmonitorings"}
)

const enableGMP = "enable Managed Service for Prometheus: gcloud container clusters update CLUSTER --location LOCATION --enable-managed-prometheus"

// scrapers are the PodMonitorings of the namespace and the
// ClusterPodMonitorings that select the vLLM pods.
type scrapers struct {
	ours   *unstructured.Unstructured
	others []string // kind/name of other selectors of the pods
	// unselected are PodMonitorings of ours that do not select the pods.
	unselected []string
}

type scrapersRead struct {
	sc    scrapers
	check *Check
}

// scrapers reads the scrapers once.
func (s *state) scrapers(ctx context.Context) (scrapers, *Check) {
	r, _ := s.scr.get(func() (scrapersRead, error) {
		sc, c := s.readScrapers(ctx)
		return scrapersRead{sc, c}, nil
	})
	return r.sc, r.check
}

func (s *state) readScrapers(ctx context.Context) (scrapers, *Check) {
	var out scrapers
	ns := s.in.Namespace
	p := perm{verb: "list", group: "monitoring.googleapis.com", resource: "podmonitorings", namespace: ns}
	if !s.can(ctx, p) {
		c := denied(LinkScraping, "scraping/podmonitoring", p)
		return out, &c
	}
	list, err := s.env.Dynamic.Resource(podMonitoringGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			c := fail(LinkScraping, "scraping/podmonitoring", enableGMP, "the cluster does not serve PodMonitoring (Managed Prometheus is off)")
			return out, &c
		}
		c := readErr(LinkScraping, "scraping/podmonitoring", p, err)
		return out, &c
	}
	podLabels := s.podLabels()
	for i := range list.Items {
		pm := &list.Items[i]
		selects := selectsPods(pm, podLabels)
		mine := pm.GetLabels()[apply.LabelManagedBy] == apply.ManagedBy
		switch {
		case mine && selects && out.ours == nil:
			out.ours = pm
		case mine && !selects:
			out.unselected = append(out.unselected, pm.GetName())
		case selects:
			out.others = append(out.others, "PodMonitoring/"+pm.GetName())
		}
	}
	if s.can(ctx, perm{verb: "list", group: "monitoring.googleapis.com", resource: "clusterpodmonitorings"}) {
		if cl, err := s.env.Dynamic.Resource(clusterPodMonitoringGVR).List(ctx, metav1.ListOptions{}); err == nil {
			for i := range cl.Items {
				if selectsPods(&cl.Items[i], podLabels) {
					out.others = append(out.others, "ClusterPodMonitoring/"+cl.Items[i].GetName())
				}
			}
		}
	}
	return out, nil
}

func selectsPods(pm *unstructured.Unstructured, podLabels labels.Set) bool {
	if podLabels == nil {
		return false
	}
	raw, found, _ := unstructured.NestedMap(pm.Object, "spec", "selector")
	if !found {
		return false
	}
	var ls metav1.LabelSelector
	if runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls) != nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	return err == nil && !sel.Empty() && sel.Matches(podLabels)
}

func checkPodMonitoring(ctx context.Context, s *state) []Check {
	const id = "scraping/podmonitoring"
	if s.deploy == nil {
		return []Check{skip(LinkScraping, id, "no Deployment to match the PodMonitoring against")}
	}
	sc, c := s.scrapers(ctx)
	if c != nil {
		return []Check{*c}
	}
	ns := s.in.Namespace
	if sc.ours == nil {
		msg := fmt.Sprintf("no PodMonitoring made by infer-hpa in %s selects the pods of %s", ns, s.deployName)
		if len(sc.unselected) > 0 {
			msg += " (" + strings.Join(sc.unselected, ", ") + " select other labels)"
		}
		return []Check{fail(LinkScraping, id, fmt.Sprintf("rerun `kubectl infer-hpa setup %s -n %s`", s.deployName, ns), "%s", msg)}
	}
	name := sc.ours.GetName()
	eps, _, _ := unstructured.NestedSlice(sc.ours.Object, "spec", "endpoints")
	if len(eps) == 0 {
		return []Check{fail(LinkScraping, id, fmt.Sprintf("rerun `kubectl infer-hpa setup %s -n %s`", s.deployName, ns), "PodMonitoring %s has no endpoints", name)}
	}
	ep, _ := eps[0].(map[string]any)
	port := fmt.Sprint(ep["port"])
	path, _ := ep["path"].(string)
	if path == "" {
		path = "/metrics"
	}
	want := s.metricsPort()
	if n, declared := discover.DeclaredPort(&s.deploy.Spec.Template.Spec, port); declared && n == want || port == strconv.Itoa(int(want)) {
		return []Check{ok(LinkScraping, id, "PodMonitoring %s scrapes %s on port %s of the pods of %s", name, path, port, s.deployName)}
	}
	return []Check{fail(LinkScraping, id,
		fmt.Sprintf("rerun `kubectl infer-hpa setup %s -n %s --metrics-port %d`, or `kubectl -n %s patch podmonitoring %s --type=json -p '[{\"op\":\"replace\",\"path\":\"/spec/endpoints/0/port\",\"value\":%d}]'`", s.deployName, ns, want, ns, name, want),
		"PodMonitoring %s scrapes port %s, but vLLM serves /metrics on %d", name, port, want)}
}

func checkOtherScrapers(ctx context.Context, s *state) []Check {
	const id = "scraping/double-count"
	if s.deploy == nil {
		return []Check{skip(LinkScraping, id, "no Deployment to match scrapers against")}
	}
	sc, c := s.scrapers(ctx)
	if c != nil {
		return nil // checkPodMonitoring says why
	}
	if len(sc.others) == 0 {
		return []Check{ok(LinkScraping, id, "nothing else scrapes the pods of %s", s.deployName)}
	}
	return []Check{fail(LinkScraping, id,
		fmt.Sprintf("delete the other scraper(s), e.g. `kubectl -n %s delete %s`, or narrow their selectors: the adapter sums every series of a pod", s.in.Namespace, strings.ToLower(sc.others[0])),
		"%s also scrape(s) the pods of %s: the adapter adds the series up, so every value is counted %d times", strings.Join(sc.others, ", "), s.deployName, len(sc.others)+1)}
}

func checkTargetStatus(ctx context.Context, s *state) []Check {
	const id = "scraping/targets"
	if s.deploy == nil {
		return nil
	}
	sc, c := s.scrapers(ctx)
	if c != nil || sc.ours == nil {
		return nil
	}
	eps, found, _ := unstructured.NestedSlice(sc.ours.Object, "status", "endpointStatuses")
	if !found || len(eps) == 0 {
		return []Check{skip(LinkScraping, id, "Managed Prometheus reports no target status for PodMonitoring %s; to see scrape errors here turn it on: `kubectl -n gmp-public patch operatorconfig config --type=merge -p '{\"features\":{\"targetStatus\":{\"enabled\":true}}}'`", sc.ours.GetName())}
	}
	up, down := 0, 0
	var errs []string
	for _, e := range eps {
		groups, _, _ := unstructured.NestedSlice(e.(map[string]any), "sampleGroups")
		for _, g := range groups {
			targets, _, _ := unstructured.NestedSlice(g.(map[string]any), "sampleTargets")
			for _, t := range targets {
				tm, _ := t.(map[string]any)
				if h, _ := tm["health"].(string); h == "up" {
					up++
					continue
				}
				down++
				le, _ := tm["lastError"].(string)
				lbl, _ := tm["labels"].(map[string]any)
				errs = append(errs, fmt.Sprintf("%v: %s", lbl["instance"], le))
			}
		}
	}
	if down == 0 {
		return []Check{ok(LinkScraping, id, "Managed Prometheus scrapes %s up", plural(up, "target"))}
	}
	return []Check{fail(LinkScraping, id,
		"the scrape error says what is wrong; usually the port or path of the PodMonitoring (compare with the port vLLM listens on)",
		"%d of %d scrape targets down: %s", down, up+down, joinMax(errs, 2)).asSymptom().with(errs...)}
}
