package doctor

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/promtext"
)

// Scraper reads a pod's Prometheus endpoint.
type Scraper interface {
	Scrape(ctx context.Context, namespace, pod string, port int32, path string) (string, error)
}

// ProxyScraper reads /metrics through the apiserver's pod proxy.
type ProxyScraper struct{ Kube kubernetes.Interface }

// Scrape GETs /api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH.
func (p ProxyScraper) Scrape(ctx context.Context, namespace, pod string, port int32, path string) (string, error) {
	b, err := p.Kube.CoreV1().Pods(namespace).ProxyGet("http", pod, strconv.Itoa(int(port)), path, nil).DoRaw(ctx)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Old and new names of the vLLM KV-cache gauge (renamed in 0.9.2, the old
// one removed in 0.12).
const (
	vllmKVCache    = "vllm:kv_cache_usage_perc"
	vllmGPUCacheV0 = "vllm:gpu_cache_usage_perc"
)

func checkWorkload(_ context.Context, s *state) []Check {
	const id = "workload/deployment"
	ns := s.in.Namespace
	switch {
	case s.deployName == "":
		return []Check{fail(LinkWorkload, id, "point the HPA's scaleTargetRef at the vLLM Deployment (rerun `kubectl infer-hpa setup`)",
			"HPA %s scales a %s, not a Deployment", s.hpaName, s.hpa.Spec.ScaleTargetRef.Kind)}
	case s.deployErr != nil:
		return []Check{fail(LinkWorkload, id, fmt.Sprintf("create the Deployment or fix the HPA's scaleTargetRef (`kubectl -n %s get deploy`)", ns),
			"deployment %s/%s: %v", ns, s.deployName, s.deployErr)}
	case s.podsErr != nil:
		return []Check{readErr(LinkWorkload, id, perm{verb: "list", resource: "pods", namespace: ns}, s.podsErr)}
	}
	ready := s.readyPods()
	c := ok(LinkWorkload, id, "deployment %s: %d of %d pods Ready", s.deployName, len(ready), len(s.pods))
	var why []string
	for _, p := range s.pods {
		if !podReady(&p) {
			why = append(why, p.Name+": "+notReadyReason(&p))
		}
	}
	switch {
	case len(s.pods) == 0:
		c = fail(LinkWorkload, id, fmt.Sprintf("look at why: `kubectl -n %s describe deploy %s`", ns, s.deployName),
			"deployment %s has no pods", s.deployName)
	case len(ready) == 0:
		c = fail(LinkWorkload, id, fmt.Sprintf("`kubectl -n %s describe pod %s` and its log show why vLLM is not Ready", ns, s.pods[0].Name),
			"deployment %s: none of its %s is Ready", s.deployName, plural(len(s.pods), "pod"))
	case len(why) > 0:
		c = warn(LinkWorkload, id, "", "deployment %s: %d of %d pods Ready", s.deployName, len(ready), len(s.pods))
	}
	return []Check{c.with(why...)}
}

// notReadyReason is the most telling reason a pod is not Ready.
func notReadyReason(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return w.Reason
		}
		if t := cs.LastTerminationState.Terminated; t != nil && cs.RestartCount > 0 {
			return fmt.Sprintf("restarted %d times, last %s", cs.RestartCount, t.Reason)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			if c.Message != "" {
				return c.Message
			}
			if c.Reason != "" {
				return c.Reason
			}
		}
	}
	return string(p.Status.Phase)
}

// metricsPort is the port vLLM serves /metrics on, from the Deployment.
func (s *state) metricsPort() int32 {
	if s.deploy == nil {
		return discover.DefaultVLLMPort
	}
	if p := s.nativePort(); p > 0 && s.statedPorts()[p] {
		return p // where GKE reads the gauges
	}
	return discover.Inspect(s.deploy).Port
}

// scrape reads /metrics of a pod once.
func (s *state) scrape(ctx context.Context, pod string) (string, error) {
	return s.scrapes.get(pod, func() (string, error) {
		sc := s.env.Scraper
		if sc == nil {
			sc = ProxyScraper{Kube: s.env.Kube}
		}
		return sc.Scrape(ctx, s.in.Namespace, pod, s.metricsPort(), "/metrics")
	})
}

// exposition is a parsed /metrics page: the sum of each metric's samples.
type exposition map[string]float64

func parseExposition(text string) exposition {
	// A malformed line ends the parse: the families before it are kept.
	sums, _ := promtext.Sums([]byte(text))
	return exposition(sums)
}

// servedMetrics is what the first ready pod's /metrics exposes; ok is false
// when it could not be read.
func (s *state) servedMetrics(ctx context.Context) (exposition, string, bool) {
	ready := s.readyPods()
	if len(ready) == 0 || !s.can(ctx, perm{verb: "get", resource: "pods", subresource: "proxy", namespace: s.in.Namespace}) {
		return nil, "", false
	}
	text, err := s.scrape(ctx, ready[0].Name)
	if err != nil {
		return nil, ready[0].Name, false
	}
	return parseExposition(text), ready[0].Name, true
}

func checkPodMetrics(ctx context.Context, s *state) []Check {
	const id = "workload/metrics"
	ns := s.in.Namespace
	ready := s.readyPods()
	if s.deploy == nil || len(ready) == 0 {
		return []Check{skip(LinkWorkload, id, "no Ready vLLM pod to read /metrics from")}
	}
	p := perm{verb: "get", resource: "pods", subresource: "proxy", namespace: ns}
	if !s.can(ctx, p) {
		return []Check{denied(LinkWorkload, id, p)}
	}
	pod, port := ready[0].Name, s.metricsPort()
	text, err := s.scrape(ctx, pod)
	if err != nil {
		fix := fmt.Sprintf("check that vLLM listens on %d (its --port) and serves /metrics: `kubectl -n %s port-forward pod/%s %d` then curl localhost:%d/metrics", port, ns, pod, port, port)
		if proxyUnreachable(err) {
			// The apiserver could not dial the pod: that says nothing
			// about vLLM (GKE's control plane may not reach pod IPs).
			return []Check{warn(LinkWorkload, id, fix, "could not read /metrics of pod %s through the apiserver's pod proxy (%v); the names are checked through the custom metrics API instead", pod, err)}
		}
		return []Check{fail(LinkWorkload, id, fix, "pod %s does not answer /metrics on port %d: %v", pod, port, err)}
	}
	exp := parseExposition(text)
	var vllmNames []string
	for n := range exp {
		if strings.HasPrefix(n, "vllm:") {
			vllmNames = append(vllmNames, n)
		}
	}
	if len(vllmNames) == 0 {
		return []Check{fail(LinkWorkload, id, "is this vLLM's OpenAI server? Its /metrics has vllm:* series",
			"pod %s serves /metrics on port %d but no vllm:* metric", pod, port)}
	}
	var have, missing []string
	for _, m := range s.metrics {
		if !m.vllm() {
			continue
		}
		if v, found := exp[m.Prom]; found {
			have = append(have, fmt.Sprintf("%s=%s", m.Prom, fmtNum(v)))
		} else {
			missing = append(missing, m.Prom)
		}
	}
	c := ok(LinkWorkload, id, "pod %s serves %d vLLM metrics on :%d/metrics", pod, len(vllmNames), port)
	if len(have) > 0 {
		c.Message += "; " + strings.Join(have, ", ")
	}
	if _, old := exp[vllmGPUCacheV0]; old {
		if _, cur := exp[vllmKVCache]; !cur {
			c.Evidence = append(c.Evidence, "this vLLM is older than 0.9.2: it names the KV-cache gauge "+vllmGPUCacheV0+", not "+vllmKVCache)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		c = warn(LinkWorkload, id, "", "pod %s does not serve %s (see hpa/metric-names)", pod, strings.Join(missing, ", ")).with(c.Evidence...)
	}
	return []Check{c}
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// proxyUnreachable: the pod proxy's answer when the apiserver cannot dial
// the pod (503/502/504 or a timeout), as opposed to vLLM's own answer.
func proxyUnreachable(err error) bool {
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsUnexpectedServerError(err) && strings.Contains(err.Error(), "502")
}
