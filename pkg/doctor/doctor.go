// Package doctor checks, on a live cluster, every link of the chain that
// scales a vLLM Deployment on its inference metrics, in the order data
// flows: workload → scraping → Cloud Monitoring → identity → adapter →
// metrics APIs → HPA. Each check says ok, warn, FAIL or skip (with why),
// and a failure carries the fix. Every check only reads.
package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Status is a check's verdict.
type Status string

// Verdicts, in the table's spelling.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
	Skip Status = "skip"
)

// Links of the chain, in data-flow order.
const (
	LinkWorkload   = "workload"
	LinkNative     = "native"
	LinkScraping   = "scraping"
	LinkMonitoring = "monitoring"
	LinkIdentity   = "identity"
	LinkAdapter    = "adapter"
	LinkAPIs       = "metrics-api"
	LinkHPA        = "hpa"
)

var linkOrder = []string{LinkWorkload, LinkNative, LinkScraping, LinkMonitoring, LinkIdentity, LinkAdapter, LinkAPIs, LinkHPA}

// dependsOn says which links a link's data comes through: a failure
// downstream of a failed link is reported as a consequence (warn), so the
// table names the one link that is broken.
var dependsOn = map[string][]string{
	LinkNative:     {LinkWorkload},
	LinkScraping:   {LinkWorkload},
	LinkMonitoring: {LinkWorkload, LinkScraping},
	LinkAdapter:    {LinkIdentity},
	LinkAPIs:       {LinkAdapter, LinkMonitoring, LinkNative},
	LinkHPA:        {LinkAPIs, LinkWorkload},
}

// Check is one verdict.
type Check struct {
	ID       string   `json:"id"`
	Link     string   `json:"link"`
	Status   Status   `json:"status"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	// Cause is the failed check this one follows from, when its own
	// failure was turned into a warning.
	Cause string `json:"cause,omitempty"`
	order int
	// symptom marks a failure that an upstream broken link explains (no
	// data, not Ready, not Available); a wrong or missing object is never one.
	symptom bool
}

// Report is the outcome of Run.
type Report struct {
	Namespace string `json:"namespace"`
	// Path is the chain doctor checked: "adapter" or "native".
	Path       string        `json:"path"`
	HPA        string        `json:"hpa,omitempty"`
	Deployment string        `json:"deployment,omitempty"`
	Checks     []Check       `json:"checks"`
	Elapsed    time.Duration `json:"-"`
}

// Count returns how many checks have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Verdict is the one-line summary: "doctor: all 23 checks ok" or
// "doctor: 1 failure — adapter: …".
func (r *Report) Verdict() string {
	fails := r.Count(Fail)
	if fails == 0 {
		s := fmt.Sprintf("doctor: no failures (%d ok", r.Count(OK))
		if n := r.Count(Warn); n > 0 {
			s += fmt.Sprintf(", %d warnings", n)
		}
		if n := r.Count(Skip); n > 0 {
			s += fmt.Sprintf(", %d skipped", n)
		}
		return s + ")"
	}
	var first Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			first = c
			break
		}
	}
	word := "failure"
	if fails > 1 {
		word = "failures"
	}
	return fmt.Sprintf("doctor: %d %s — %s: %s", fails, word, first.Link, first.Message)
}

// Env reaches the cluster and Google. Nil Google readers make the checks
// that need them skip, saying why.
type Env struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Scraper reads a pod's /metrics (the pod proxy when nil).
	Scraper Scraper
	// Logs reads container logs (the apiserver when nil).
	Logs LogReader
	// Custom reads custom.metrics.k8s.io (nil: skipped).
	Custom CustomMetrics
	// Monitoring and IAM read Google Cloud with the user's credentials;
	// MonitoringErr / IAMErr say why one is nil.
	Monitoring    SeriesReader
	MonitoringErr error
	IAM           IAMReader
	IAMErr        error
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// SeriesReader is gcp.Monitoring's PodSeries.
type SeriesReader interface {
	PodSeries(ctx context.Context, projectID, metricType, namespace string, pods []string, start, end time.Time) ([]gcp.Series, error)
}

// IAMReader is the read side of gcp.Client.
type IAMReader interface {
	ProjectGrants(ctx context.Context, projectID string) (gcp.Grants, error)
	ServiceAccountGrants(ctx context.Context, projectID, email string) (gcp.Grants, error)
	ServiceAccountExists(ctx context.Context, projectID, email string) (bool, error)
	ProjectNumber(ctx context.Context, projectID string) (int64, error)
}

// CustomMetrics reads per-pod values of a metric from custom.metrics.k8s.io.
type CustomMetrics interface {
	PodValues(ctx context.Context, namespace, metric, podSelector string) (map[string]float64, error)
}

// Input says what to examine.
type Input struct {
	Namespace string
	// Name is an HPA or a Deployment; empty picks the only one.
	Name string
	// Since is how far back logs and events are read.
	Since time.Duration
	// Project overrides the project recorded by setup / read from the nodes.
	Project string
	// AdapterNamespace is where the adapter runs (custom-metrics).
	AdapterNamespace string
	// AdapterImage is the image setup ships, to compare against.
	AdapterImage string
}

// checkFn is one check (or a family of checks): it appends verdicts.
type checkFn func(ctx context.Context, s *state) []Check

// Run resolves the target and runs every check, concurrently where they
// are independent. The error is only for when doctor cannot run at all
// (the target cannot be found, the cluster is unreachable).
func Run(ctx context.Context, env Env, in Input) (*Report, error) {
	start := time.Now()
	if env.Kube == nil || env.Dynamic == nil {
		return nil, fmt.Errorf("doctor needs both a clientset and a dynamic client")
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if in.AdapterNamespace == "" {
		in.AdapterNamespace = identity.DefaultNamespace
	}
	if in.Since <= 0 {
		in.Since = 15 * time.Minute
	}
	s, err := newState(ctx, env, in)
	if err != nil {
		return nil, err
	}
	families := []checkFn{
		checkWorkload, checkPodMetrics,
		checkPodMonitoring, checkOtherScrapers, checkTargetStatus,
		checkMonitoring,
		checkIdentity,
		checkAdapterDeployment, checkAdapterLogs,
		checkAPIServices, checkCustomMetrics,
		checkHPA, checkHPAMetrics, checkHPAConditions, checkHPAEvents, checkHPAScale,
	}
	if s.native {
		families = []checkFn{
			checkWorkload, checkPodMetrics,
			checkNative, func(context.Context, *state) []Check { return nativeSkips() },
			checkAPIServices, checkCustomMetrics,
			checkHPA, checkHPAMetrics, checkHPAConditions, checkHPAEvents, checkHPAScale,
		}
	}
	var mu sync.Mutex
	var all []Check
	var wg sync.WaitGroup
	for i, f := range families {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := f(ctx, s)
			for j := range cs {
				cs[j].order = i*100 + j
			}
			mu.Lock()
			all = append(all, cs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	path := "adapter"
	if s.native {
		path = "native"
	}
	r := &Report{Namespace: in.Namespace, Path: path, HPA: s.hpaName, Deployment: s.deployName, Checks: arrange(all)}
	r.Elapsed = time.Since(start)
	return r, nil
}

// arrange sorts checks into data-flow order and turns a failure that
// follows from an earlier failed link into a warning naming that link.
func arrange(cs []Check) []Check {
	rank := map[string]int{}
	for i, l := range linkOrder {
		rank[l] = i
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if rank[cs[i].Link] != rank[cs[j].Link] {
			return rank[cs[i].Link] < rank[cs[j].Link]
		}
		return cs[i].order < cs[j].order
	})
	failed := map[string]string{} // link → first failed check id
	broken := map[string]string{} // link → first failed check that is not a symptom
	for i := range cs {
		c := &cs[i]
		if c.Status != Fail {
			continue
		}
		if c.symptom {
			cause := broken[c.Link]
			if cause == "" {
				cause = upstreamFailure(c.Link, failed, map[string]bool{})
			}
			if cause != "" {
				c.Status, c.Cause = Warn, cause
				c.Message += " (follows from " + cause + ")"
				continue
			}
		} else if _, ok := broken[c.Link]; !ok {
			broken[c.Link] = c.ID
		}
		if _, ok := failed[c.Link]; !ok {
			failed[c.Link] = c.ID
		}
	}
	return cs
}

func upstreamFailure(link string, failed map[string]string, seen map[string]bool) string {
	for _, up := range dependsOn[link] {
		if seen[up] {
			continue
		}
		seen[up] = true
		if id, ok := failed[up]; ok {
			return id
		}
		if id := upstreamFailure(up, failed, seen); id != "" {
			return id
		}
	}
	return ""
}

// Helpers to build verdicts.
func ok(link, id, format string, a ...any) Check {
	return Check{ID: id, Link: link, Status: OK, Message: fmt.Sprintf(format, a...)}
}

func warn(link, id, fix, format string, a ...any) Check {
	return Check{ID: id, Link: link, Status: Warn, Message: fmt.Sprintf(format, a...), Fix: fix}
}

func fail(link, id, fix, format string, a ...any) Check {
	return Check{ID: id, Link: link, Status: Fail, Message: fmt.Sprintf(format, a...), Fix: fix}
}

func skip(link, id, format string, a ...any) Check {
	return Check{ID: id, Link: link, Status: Skip, Message: fmt.Sprintf(format, a...)}
}

// asSymptom marks c as possibly explained by an upstream failure.
func (c Check) asSymptom() Check {
	c.symptom = true
	return c
}

func (c Check) with(evidence ...string) Check {
	c.Evidence = append(c.Evidence, evidence...)
	return c
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func joinMax(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
}
