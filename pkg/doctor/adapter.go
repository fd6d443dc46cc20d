package doctor

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	adapterName     = "custom-metrics-stackdriver-adapter"
	adapterSelector = "k8s-app=custom-metrics-stackdriver-adapter"
)

func checkAdapterDeployment(ctx context.Context, s *state) []Check {
	const id = "adapter/deployment"
	ns := s.in.AdapterNamespace
	p := perm{verb: "get", group: "apps", resource: "deployments", namespace: ns}
	d, err := s.env.Kube.AppsV1().Deployments(ns).Get(ctx, adapterName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return []Check{fail(LinkAdapter, id, "rerun `kubectl infer-hpa setup`", "deployment %s/%s does not exist", ns, adapterName)}
	case err != nil:
		return []Check{readErr(LinkAdapter, id, p, err)}
	}
	if d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
		return []Check{fail(LinkAdapter, id, fmt.Sprintf("kubectl -n %s scale deployment %s --replicas=1", ns, adapterName),
			"deployment %s/%s is scaled to 0: nothing serves the custom metrics API", ns, adapterName)}
	}
	image := ""
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		image = cs[0].Image
	}
	pods, perr := s.adapterPods(ctx)
	var evidence []string
	oom := false
	restarts := int32(0)
	for _, pod := range pods {
		for _, cs := range pod.Status.ContainerStatuses {
			restarts += cs.RestartCount
			line := fmt.Sprintf("%s: ready=%v restarts=%d", pod.Name, cs.Ready, cs.RestartCount)
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				line += " waiting=" + w.Reason
			}
			if t := cs.LastTerminationState.Terminated; t != nil {
				line += fmt.Sprintf(" last-exit=%s(%d)", t.Reason, t.ExitCode)
				if !t.FinishedAt.IsZero() {
					line += " " + age(s.env.Now().Sub(t.FinishedAt.Time)) + " ago"
				}
				if t.Reason == "OOMKilled" {
					oom = true
				}
			}
			evidence = append(evidence, line)
		}
	}
	if perr != nil {
		evidence = append(evidence, "cannot list its pods: "+perr.Error())
	}
	oomFix := fmt.Sprintf("raise its memory limit: kubectl -n %s set resources deployment %s --limits=memory=2Gi (or rerun setup, which sets 1Gi)", ns, adapterName)
	if d.Status.ReadyReplicas == 0 {
		fix := fmt.Sprintf("read why in the adapter checks below and `kubectl -n %s describe pods -l %s`", ns, adapterSelector)
		if oom {
			fix = oomFix
		}
		return []Check{fail(LinkAdapter, id, fix, "deployment %s/%s has no Ready pod", ns, adapterName).asSymptom().with(evidence...)}
	}
	c := ok(LinkAdapter, id, "deployment %s/%s: %d/%d Ready, %s", ns, adapterName, d.Status.ReadyReplicas, d.Status.Replicas, image).with(evidence...)
	switch {
	case oom:
		c = warn(LinkAdapter, id, oomFix, "the adapter was OOM-killed (%s restarts) and runs again", fmt.Sprint(restarts)).with(evidence...)
	case s.in.AdapterImage != "" && image != s.in.AdapterImage:
		c = warn(LinkAdapter, id, "rerun setup to move to the image infer-hpa ships (or keep yours on purpose)",
			"the adapter runs %s; infer-hpa ships %s", image, s.in.AdapterImage).with(evidence...)
	}
	return []Check{c}
}

// The adapter's log lines that matter, as the real adapter writes them
// (custom-metrics-stackdriver-adapter: adapter.go's start-up fatal,
// googleapi.Error's text, and the apiserver's logging of a non-Status error).
var (
	startupFatal = regexp.MustCompile(`Failed request to stackdriver api`)
	permDenied   = regexp.MustCompile(`googleapi: Error 403: Permission (monitoring\.[A-Za-z]+\.[A-Za-z]+) denied`)
	notFoundLine = regexp.MustCompile(`the server could not find the (metric|descriptor for metric) "?[^ "]*"?`)
	anyGoogleErr = regexp.MustCompile(`googleapi: Error (\d{3})`)
)

// logFinding is a log line that matters.
type logFinding struct {
	pod  string
	when time.Time
	text string
	kind string // "fatal", "403", "notfound", "google"
	// past: read from the previous container of a pod that is Ready now
	// (it exited, and started fine since).
	past bool
}

func classifyLine(text string) string {
	switch {
	case startupFatal.MatchString(text):
		return "fatal"
	case permDenied.MatchString(text):
		return "403"
	case notFoundLine.MatchString(text):
		return "notfound"
	case anyGoogleErr.MatchString(text):
		return "google"
	}
	return ""
}

func checkAdapterLogs(ctx context.Context, s *state) []Check {
	const id = "adapter/log"
	ns := s.in.AdapterNamespace
	p := perm{verb: "get", resource: "pods", subresource: "log", namespace: ns}
	if !s.can(ctx, p) {
		return []Check{denied(LinkAdapter, id, p)}
	}
	pods, err := s.adapterPods(ctx)
	if err != nil {
		return []Check{readErr(LinkAdapter, id, perm{verb: "list", resource: "pods", namespace: ns}, err)}
	}
	if len(pods) == 0 {
		return []Check{skip(LinkAdapter, id, "no adapter pod to read the log of")}
	}
	var found []logFinding
	var readErrs []string
	lines := 0
	for _, pod := range pods {
		for _, prev := range []bool{false, true} {
			if prev && !restarted(&pod) {
				continue
			}
			fs, n, err := s.scanLog(ctx, pod.Name, prev)
			for i := range fs {
				fs[i].past = prev && podReady(&pod)
			}
			if err != nil {
				if !prev {
					readErrs = append(readErrs, fmt.Sprintf("%s: %v", pod.Name, err))
				}
				continue
			}
			lines += n
			found = append(found, fs...)
		}
	}
	if len(readErrs) == len(pods) && lines == 0 {
		if len(readErrs) > 0 && strings.Contains(readErrs[0], "forbidden") {
			return []Check{denied(LinkAdapter, id, p)}
		}
		return []Check{skip(LinkAdapter, id, "cannot read the adapter's log: %s", strings.Join(readErrs, "; "))}
	}
	if len(found) == 0 {
		return []Check{ok(LinkAdapter, id, "no Cloud Monitoring error in the adapter's log of the last %s (%s read)", s.in.Since, plural(lines, "line"))}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].when.After(found[j].when) })
	now := s.env.Now()
	var quoted []string
	kinds := map[string]logFinding{}
	for _, f := range found {
		k := f.kind
		if k == "fatal" && f.past {
			k = "past-fatal"
		}
		if _, seen := kinds[k]; !seen {
			kinds[k] = f
		}
		if len(quoted) < 5 {
			quoted = append(quoted, fmt.Sprintf("%s ago %s: %s", age(now.Sub(f.when)), f.pod, trim(f.text, 240)))
		}
	}
	first := found[0]
	msg := fmt.Sprintf("%s, %s ago: %q", plural(len(found), "error line"), age(now.Sub(first.when)), trim(first.text, 160))
	idFix := "the adapter's Google identity cannot read Cloud Monitoring: see the identity checks; after fixing, `kubectl -n " + ns + " rollout restart deployment " + adapterName + "`"
	if f, has := kinds["fatal"]; has && !s.servesNow(ctx) {
		return []Check{fail(LinkAdapter, id, idFix, "the adapter exits at start-up, %s ago: %q", age(now.Sub(f.when)), trim(f.text, 200)).asSymptom().with(quoted...)}
	}
	if f, has := kinds["403"]; has && !s.servesNow(ctx) {
		m := permDenied.FindStringSubmatch(f.text)
		return []Check{fail(LinkAdapter, id, idFix, "403 Permission %s denied, %s ago (%s)", m[1], age(now.Sub(f.when)), plural(len(found), "error line")).asSymptom().with(quoted...)}
	}
	if _, has := kinds["fatal"]; has {
		return []Check{warn(LinkAdapter, id, "", "%s; the adapter serves every metric now: it has recovered", msg).with(quoted...)}
	}
	if f, has := kinds["past-fatal"]; has && len(kinds) == 1 {
		return []Check{warn(LinkAdapter, id, "", "the adapter exited at start-up %s ago (%q) and has run Ready since", age(now.Sub(f.when)), trim(f.text, 160)).with(quoted...)}
	}
	if _, has := kinds["403"]; has {
		return []Check{warn(LinkAdapter, id, "", "%s; the adapter serves every metric now: it has recovered", msg).with(quoted...)}
	}
	if _, has := kinds["notfound"]; has {
		return []Check{warn(LinkAdapter, id, "check the HPA's metric names (hpa/metric-names) and that the metric arrives in Cloud Monitoring", "%s", msg).with(quoted...)}
	}
	return []Check{warn(LinkAdapter, id, "", "%s", msg).with(quoted...)}
}

// servesNow says whether the errors in the log are history: every adapter
// pod is Ready, the APIServices are ours and Available, and
// custom.metrics.k8s.io answers each of the HPA's metrics for every Ready
// vLLM pod.
func (s *state) servesNow(ctx context.Context) bool {
	pods, err := s.adapterPods(ctx)
	ready := s.readyPods()
	if err != nil || len(pods) == 0 || len(s.metrics) == 0 || len(ready) == 0 || s.env.Custom == nil || !s.apisAvailable(ctx) {
		return false
	}
	for i := range pods {
		if !podReady(&pods[i]) {
			return false
		}
	}
	for _, m := range s.metrics {
		vals, err := s.customValues(ctx, m)
		if err != nil {
			return false
		}
		for _, p := range ready {
			if _, found := vals[p.Name]; !found {
				return false
			}
		}
	}
	return true
}

// LogReader reads a container's log.
type LogReader interface {
	Logs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (string, error)
}

// KubeLogs reads logs through the apiserver.
type KubeLogs struct{ Kube kubernetes.Interface }

// Logs GETs the pod's log.
func (k KubeLogs) Logs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (string, error) {
	b, err := k.Kube.CoreV1().Pods(namespace).GetLogs(pod, opts).DoRaw(ctx)
	return string(b), err
}

func restarted(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.RestartCount > 0 {
			return true
		}
	}
	return false
}

// scanLog reads a container's log of the last --since (prev: the previous,
// crashed container) and returns the lines that matter.
func (s *state) scanLog(ctx context.Context, pod string, prev bool) ([]logFinding, int, error) {
	since := int64(s.in.Since.Seconds())
	limit := int64(1 << 20)
	opts := &corev1.PodLogOptions{Timestamps: true, Previous: prev, LimitBytes: &limit}
	if !prev {
		opts.SinceSeconds = &since
	}
	logs := s.env.Logs
	if logs == nil {
		logs = KubeLogs{Kube: s.env.Kube}
	}
	raw, err := logs.Logs(ctx, s.in.AdapterNamespace, pod, opts)
	if err != nil {
		return nil, 0, err
	}
	cutoff := s.env.Now().Add(-s.in.Since)
	var out []logFinding
	n := 0
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		n++
		ts, text := splitTimestamp(sc.Text())
		if prev && !ts.IsZero() && ts.Before(cutoff) {
			continue
		}
		if k := classifyLine(text); k != "" {
			out = append(out, logFinding{pod: pod, when: ts, text: text, kind: k})
		}
	}
	return out, n, nil
}

func splitTimestamp(line string) (time.Time, string) {
	ts, rest, found := strings.Cut(line, " ")
	if !found {
		return time.Time{}, line
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, line
	}
	return t, rest
}

func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
