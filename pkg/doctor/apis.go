package doctor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
)

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// customAPIServices are the APIServices the HPA's Pods metrics go through.
var customAPIServices = []string{"v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"}

const firewallHint = "on a private GKE cluster the control plane reaches nodes only on 443 and 10250: keep the adapter on 443 (rerun setup) or add a firewall rule from the control plane's range to the adapter's port"

func checkAPIServices(ctx context.Context, s *state) []Check {
	p := perm{verb: "get", group: "apiregistration.k8s.io", resource: "apiservices"}
	if !s.can(ctx, p) {
		return []Check{denied(LinkAPIs, "metrics-api/apiservices", p)}
	}
	var out []Check
	for _, name := range customAPIServices {
		out = append(out, s.apiServiceCheck(ctx, name, p))
	}
	return out
}

// apiServiceCheck reads an APIService once.
func (s *state) apiServiceCheck(ctx context.Context, name string, p perm) Check {
	c, _ := s.apiSvcs.get(name, func() (Check, error) { return s.checkAPIService(ctx, name, p), nil })
	return c
}

func (s *state) checkAPIService(ctx context.Context, name string, p perm) Check {
	id := "metrics-api/" + name
	ns := s.in.AdapterNamespace
	a, err := s.env.Dynamic.Resource(apiServiceGVR).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fail(LinkAPIs, id, "rerun `kubectl infer-hpa setup`", "APIService %s does not exist: nothing serves custom metrics", name)
	}
	if err != nil {
		return readErr(LinkAPIs, id, p, err)
	}
	svcNS, _, _ := unstructured.NestedString(a.Object, "spec", "service", "namespace")
	svcName, _, _ := unstructured.NestedString(a.Object, "spec", "service", "name")
	ours := svcNS == ns && svcName == adapterName
	if s.native && ours {
		return fail(LinkAPIs, id,
			fmt.Sprintf("the native path needs GKE's managed metrics adapter behind custom.metrics.k8s.io: rerun `kubectl infer-hpa setup %s -n %s --path native` (it prunes our adapter when nothing else uses it), or go back with --path adapter", orDeployment(s.deployName), s.in.Namespace),
			"APIService %s is served by the Stackdriver adapter (%s/%s), which does not serve the HPA's autoscaling.gke.io metrics", name, ns, adapterName)
	}
	servedBy := ns + "/" + adapterName
	if s.native {
		servedBy = svcNS + "/" + svcName // GKE's adapter: whoever serves it
	}
	if !s.native && !ours {
		owner := svcNS + "/" + svcName
		if svcNS == "" {
			owner = "the apiserver itself"
		}
		return fail(LinkAPIs, id,
			"only one adapter can serve custom.metrics.k8s.io: remove the other one (e.g. `helm uninstall` prometheus-adapter or KEDA), or rerun `kubectl infer-hpa setup --force-conflicts` to take the APIService over",
			"APIService %s is served by %s, not by the Stackdriver adapter (%s/%s)", name, owner, ns, adapterName)
	}
	conds, _, _ := unstructured.NestedSlice(a.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] != "Available" {
			continue
		}
		if cm["status"] == "True" {
			return ok(LinkAPIs, id, "APIService %s is Available (served by %s)", name, servedBy)
		}
		reason, _ := cm["reason"].(string)
		msg, _ := cm["message"].(string)
		fix := fmt.Sprintf("see the adapter checks; `kubectl get apiservice %s -o yaml` has the details", name)
		if s.native {
			fix = fmt.Sprintf("GKE's managed metrics adapter does not answer: `kubectl get apiservice %s -o yaml` has the details; check the cluster's version and HPA profile (%s)", name, discover.HPAProfileFix)
		}
		if reason == "FailedDiscoveryCheck" {
			fix = firewallHint
		}
		return fail(LinkAPIs, id, fix, "APIService %s is not Available: %s: %s", name, reason, trim(msg, 200)).asSymptom()
	}
	return warn(LinkAPIs, id, "", "APIService %s has no Available condition yet", name)
}

// apisAvailable says whether every custom metrics APIService is ours and
// Available (read once).
func (s *state) apisAvailable(ctx context.Context) bool {
	v, _ := s.apisUp.get(func() (bool, error) {
		p := perm{verb: "get", group: "apiregistration.k8s.io", resource: "apiservices"}
		for _, n := range customAPIServices {
			if c := s.apiServiceCheck(ctx, n, p); c.Status != OK {
				return false, nil
			}
		}
		return true, nil
	})
	return v
}

// cmValues are the per-pod values Cloud Monitoring holds for m, as the
// adapter computes them (the newest point of each series in the window,
// summed per pod); nil when unknown.
func (s *state) cmValues(ctx context.Context, m hpaMetric) map[string]float64 {
	pi := s.projectOf(ctx)
	ready := podNames(s.readyPods())
	if s.env.Monitoring == nil || m.Type == "" || pi.ID == "" || len(ready) == 0 {
		return nil
	}
	series, err := s.podSeries(ctx, pi.ID, m, ready)
	if err != nil {
		return nil
	}
	return sumNewest(series, s.env.Now())
}

func sumNewest(series []gcp.Series, now time.Time) map[string]float64 {
	out := map[string]float64{}
	for _, sr := range series {
		if len(sr.Points) == 0 || now.Sub(sr.Points[0].Time) > adapterWindow {
			continue
		}
		out[sr.Pod] += sr.Points[0].Value
	}
	return out
}

func checkCustomMetrics(ctx context.Context, s *state) []Check {
	if len(s.metrics) == 0 || s.selector == "" {
		return nil
	}
	ns := s.in.Namespace
	p := perm{verb: "get", group: "custom.metrics.k8s.io", resource: "pods", namespace: ns}
	var out []Check
	for _, m := range s.metrics {
		id := metricID(LinkAPIs, m)
		switch {
		case s.env.Custom == nil:
			out = append(out, skip(LinkAPIs, id, "no client for custom.metrics.k8s.io"))
			continue
		case !s.can(ctx, p):
			out = append(out, denied(LinkAPIs, id, p))
			continue
		case s.unserved(ctx, m):
			out = append(out, skip(LinkAPIs, id, "%s does not exist (see hpa/metric-names)", m.Prom))
			continue
		}
		vals, err := s.customValues(ctx, m)
		if err != nil {
			fix := "see the adapter and Cloud Monitoring checks; the adapter answers from the last 5 minutes of Cloud Monitoring"
			if s.native {
				fix = "see the native/ check: GKE's managed metrics adapter serves only the gauges an AutoscalingMetric declares, read from the pods' /metrics"
			}
			out = append(out, fail(LinkAPIs, id, fix,
				"custom.metrics.k8s.io has no %s for the pods of %s: %v", m.Name, s.deployName, err).asSymptom())
			continue
		}
		out = append(out, s.compareValues(ctx, id, m, vals))
	}
	return out
}

func (s *state) customValues(ctx context.Context, m hpaMetric) (map[string]float64, error) {
	return s.custom.get(m.Name, func() (map[string]float64, error) {
		return s.env.Custom.PodValues(ctx, s.in.Namespace, m.Name, s.selector)
	})
}

func (s *state) compareValues(ctx context.Context, id string, m hpaMetric, vals map[string]float64) Check {
	ready := podNames(s.readyPods())
	var missing, shown, differ []string
	cm := s.cmValues(ctx, m)
	for _, p := range ready {
		v, found := vals[p]
		if !found {
			missing = append(missing, p)
			continue
		}
		shown = append(shown, fmt.Sprintf("%s=%s", p, fmtNum(v)))
		if c, has := cm[p]; has && math.Abs(c-v) > 0.01+0.01*math.Abs(c) {
			differ = append(differ, fmt.Sprintf("%s: API %s, Cloud Monitoring %s", p, fmtNum(v), fmtNum(c)))
		}
	}
	sort.Strings(shown)
	switch {
	case len(ready) > 0 && len(missing) == len(ready):
		return fail(LinkAPIs, id, "see the adapter and Cloud Monitoring checks",
			"custom.metrics.k8s.io returns %s for none of the %s", m.Name, plural(len(ready), "Ready pod")).asSymptom()
	case len(missing) > 0:
		return warn(LinkAPIs, id, "new pods appear after a scrape or two; the HPA ignores pods without a value when scaling up",
			"%s: no value for %s", m.Name, joinMax(missing, 3)).with(shown...)
	case len(differ) > 0:
		return warn(LinkAPIs, id, "values move between reads; if they differ persistently, look for a second scraper (scraping/double-count)",
			"%s: the API and Cloud Monitoring disagree for %s", m.Name, strings.Join(differ, "; ")).with(shown...)
	}
	c := ok(LinkAPIs, id, "custom.metrics.k8s.io serves %s for all %s: %s", m.Name, plural(len(ready), "Ready pod"), joinMax(shown, 4))
	if cm != nil {
		c.Message += " (same as Cloud Monitoring)"
	}
	return c
}
