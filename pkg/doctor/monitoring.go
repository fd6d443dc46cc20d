package doctor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
)

// The adapter reads the newest point of a 5-minute window.
const (
	adapterWindow = 5 * time.Minute
	lookBack      = 10 * time.Minute
)

func metricID(link string, m hpaMetric) string {
	n := m.Prom
	if n == "" {
		n = m.Name
	}
	return link + "/" + n
}

// unserved says whether m does not exist: vLLM's /metrics was read and
// lacks it, or, when /metrics cannot be read, the custom metrics API
// answers 404 for it while its APIServices are Available.
func (s *state) unserved(ctx context.Context, m hpaMetric) bool {
	by, _ := s.unknownMetric(ctx, m)
	return by != ""
}

// unknownMetric says how m was found not to exist ("" when it exists or
// doctor cannot tell) and the pod whose /metrics was read.
func (s *state) unknownMetric(ctx context.Context, m hpaMetric) (by, pod string) {
	if !m.vllm() {
		return "", ""
	}
	exp, pod, read := s.servedMetrics(ctx)
	if read {
		if _, found := exp[m.Prom]; found {
			return "", pod
		}
		return "/metrics", pod
	}
	if s.env.Custom == nil || s.selector == "" || !s.apisAvailable(ctx) {
		return "", ""
	}
	if _, err := s.customValues(ctx, m); err != nil && isNotFound(err) {
		return "custom.metrics.k8s.io", ""
	}
	return "", ""
}

func isNotFound(err error) bool {
	return apierrors.IsNotFound(err) || strings.HasPrefix(err.Error(), "404")
}

// podSeries reads the series of m for the ready pods once.
func (s *state) podSeries(ctx context.Context, project string, m hpaMetric, pods []string) ([]gcp.Series, error) {
	return s.series.get(m.Type, func() ([]gcp.Series, error) {
		now := s.env.Now()
		return s.env.Monitoring.PodSeries(ctx, project, m.Type, s.in.Namespace, pods, now.Add(-lookBack), now)
	})
}

func checkMonitoring(ctx context.Context, s *state) []Check {
	if len(s.metrics) == 0 {
		return nil
	}
	var out []Check
	for _, m := range s.metrics {
		out = append(out, s.checkSeries(ctx, m))
	}
	return out
}

func (s *state) checkSeries(ctx context.Context, m hpaMetric) Check {
	id := metricID(LinkMonitoring, m)
	ready := podNames(s.readyPods())
	pi := s.projectOf(ctx)
	switch {
	case len(ready) == 0:
		return skip(LinkMonitoring, id, "no Ready pod to look up")
	case s.unserved(ctx, m):
		return skip(LinkMonitoring, id, "%s does not exist (see hpa/metric-names)", m.Prom)
	case pi.ID == "":
		return skip(LinkMonitoring, id, "the Google project is unknown (no inventory, no GKE node provider ID): pass --project")
	case s.env.Monitoring == nil:
		why := "no Cloud Monitoring client"
		if s.env.MonitoringErr != nil {
			why = googleWhy(s.env.MonitoringErr)
		}
		return skip(LinkMonitoring, id, "cannot read Cloud Monitoring as you: %s", why)
	}
	series, err := s.podSeries(ctx, pi.ID, m, ready)
	if err != nil {
		var ge *gcp.Error
		if errors.As(err, &ge) && ge.Kind == gcp.KindPermissionDenied {
			return skip(LinkMonitoring, id, "your own credentials lack %s on project %s (this is your permission, not the adapter's; roles/monitoring.viewer grants it)", ge.Permission, pi.ID)
		}
		if errors.As(err, &ge) && ge.Kind != gcp.KindAPI {
			return skip(LinkMonitoring, id, "cannot read Cloud Monitoring as you: %v", err)
		}
		return fail(LinkMonitoring, id, "rerun; if it persists, read the series in the Cloud Console's Metrics Explorer", "timeSeries.list for %s: %v", m.Type, err)
	}
	now := s.env.Now()
	type podData struct {
		series int
		newest time.Time
		sum    float64
	}
	per := map[string]*podData{}
	for _, sr := range series {
		d := per[sr.Pod]
		if d == nil {
			d = &podData{}
			per[sr.Pod] = d
		}
		if len(sr.Points) == 0 {
			continue
		}
		d.series++
		if p := sr.Points[0]; p.Time.After(d.newest) {
			d.newest = p.Time
		}
		if now.Sub(sr.Points[0].Time) <= adapterWindow {
			d.sum += sr.Points[0].Value
		}
	}
	var missing, stale, doubled, values []string
	var oldest time.Duration
	for _, p := range ready {
		d := per[p]
		switch {
		case d == nil || d.series == 0:
			missing = append(missing, p)
			continue
		case now.Sub(d.newest) > adapterWindow:
			stale = append(stale, fmt.Sprintf("%s (newest point %s old)", p, age(now.Sub(d.newest))))
			continue
		case d.series > 1:
			doubled = append(doubled, fmt.Sprintf("%s: %d series", p, d.series))
		}
		if a := now.Sub(d.newest); a > oldest {
			oldest = a
		}
		values = append(values, fmt.Sprintf("%s=%s", p, fmtNum(d.sum)))
	}
	sort.Strings(values)
	where := fmt.Sprintf("project %s, from %s", pi.ID, pi.From)
	switch {
	case len(missing) == len(ready):
		return fail(LinkMonitoring, id,
			"Managed Prometheus has not written the metric: check the scraping checks above, and that the cluster's Managed Prometheus collector runs (`kubectl -n gmp-system get pods`)",
			"no %s in Cloud Monitoring for any Ready pod in the last %s (%s)", m.Type, lookBack, where).asSymptom()
	case len(stale) > 0 && len(stale)+len(missing) == len(ready):
		return fail(LinkMonitoring, id,
			"data stopped arriving: check that Managed Prometheus still scrapes the pods (scraping checks, `kubectl -n gmp-system get pods`); the adapter only reads the last 5 minutes",
			"%s is stale: no point in the last 5 minutes for %s", m.Type, joinMax(stale, 3)).asSymptom().with(stale...)
	case len(missing) > 0 || len(stale) > 0:
		return warn(LinkMonitoring, id, "new pods take a scrape interval or two to appear; if it lasts, check the scraping checks",
			"%s: no recent data for %s", m.Type, joinMax(append(missing, stale...), 3)).with(values...)
	case len(doubled) > 0:
		return warn(LinkMonitoring, id, "two scrapers write the same pod's metric; the adapter sums them (see scraping/double-count)",
			"%s: several series per pod (%s), the adapter sums them", m.Type, strings.Join(doubled, "; ")).with(values...)
	}
	return ok(LinkMonitoring, id, "%s arrives for %s, newest point at most %s old (%s)", m.Prom+orName(m), plural(len(ready), "pod"), age(oldest), where).with(values...)
}

func orName(m hpaMetric) string {
	if m.Prom == "" {
		return m.Name
	}
	return ""
}

// age rounds a duration for humans.
func age(d time.Duration) string {
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
