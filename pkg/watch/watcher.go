package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	appsv1informers "k8s.io/client-go/informers/apps/v1"
	autoscalingv2informers "k8s.io/client-go/informers/autoscaling/v2"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultAdapterSelector selects the custom-metrics Stackdriver adapter's pods.
const DefaultAdapterSelector = "k8s-app=custom-metrics-stackdriver-adapter"

// Options configure a Watcher. Target must already be resolved (see Resolve).
type Options struct {
	Client  kubernetes.Interface
	Metrics MetricsSource // nil: no per-pod values
	Context string
	Target  Target

	AdapterNamespace string
	AdapterSelector  string
	// LogSince limits the first read of the adapter log; 0 means the last 50 lines.
	LogSince time.Duration

	Tick            time.Duration // snapshot tick, default 250ms
	Heartbeat       time.Duration // snapshot even when nothing changed, default 1s
	MetricsInterval time.Duration // custom metrics poll, default 5s
	HistoryPoints   int           // default 900
	HistoryInterval time.Duration // resample unchanged values this often (changes always), default 5s
	MaxLogLines     int           // default 500
	MaxEvents       int           // default 100
	Now             func() time.Time
}

func (o *Options) defaults() {
	setDefault(&o.Tick, 250*time.Millisecond)
	setDefault(&o.Heartbeat, time.Second)
	setDefault(&o.MetricsInterval, 5*time.Second)
	setDefault(&o.HistoryPoints, 900)
	setDefault(&o.HistoryInterval, 5*time.Second)
	setDefault(&o.MaxLogLines, 500)
	setDefault(&o.MaxEvents, 100)
	if o.AdapterSelector == "" {
		o.AdapterSelector = DefaultAdapterSelector
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// panel is one informer plus the last error its reflector reported.
type panel struct {
	name     string
	informer cache.SharedIndexInformer
	mu       sync.Mutex
	err      string
}

func (p *panel) setErr(s string) {
	p.mu.Lock()
	p.err = s
	p.mu.Unlock()
}

// status is the message to show instead of (or above) the panel's data.
func (p *panel) status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != "" {
		return p.err
	}
	if !p.informer.HasSynced() {
		return "waiting for the first list of " + p.name + "…"
	}
	return ""
}

// Watcher turns informer caches, log tails and metric polls into snapshots.
type Watcher struct {
	opts    Options
	started time.Time
	dirty   atomic.Bool

	hpa, deploy, pods, hpaEvents, deployEvents, adapter *panel

	logs *logBuffer

	metricsMu  sync.Mutex
	metricVals map[string]map[string]float64
	metricErrs map[string]string

	history *historyRecorder
}

// New sets up the informers; nothing talks to the apiserver until Run.
func New(opts Options) *Watcher {
	opts.defaults()
	w := &Watcher{
		opts:       opts,
		started:    opts.Now(),
		logs:       &logBuffer{max: opts.MaxLogLines},
		metricVals: map[string]map[string]float64{},
		metricErrs: map[string]string{},
		history:    newHistoryRecorder(opts.HistoryPoints, opts.HistoryInterval),
	}
	w.dirty.Store(true)
	c, ns, t := opts.Client, opts.Target.Namespace, opts.Target
	byName := func(name string) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	byObject := func(kind, name string) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) {
			o.FieldSelector = fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.String()
		}
	}
	w.hpa = w.newPanel("HorizontalPodAutoscalers", autoscalingv2informers.NewFilteredHorizontalPodAutoscalerInformer(c, ns, 0, nil, byName(t.HPA)))
	w.deploy = w.newPanel("Deployments", appsv1informers.NewFilteredDeploymentInformer(c, ns, 0, nil, byName(t.Deployment)))
	w.pods = w.newPanel("pods", corev1informers.NewFilteredPodInformer(c, ns, 0, nil, func(o *metav1.ListOptions) { o.LabelSelector = t.PodSelector }))
	w.hpaEvents = w.newPanel("events", corev1informers.NewFilteredEventInformer(c, ns, 0, nil, byObject("HorizontalPodAutoscaler", t.HPA)))
	w.deployEvents = w.newPanel("events", corev1informers.NewFilteredEventInformer(c, ns, 0, nil, byObject("Deployment", t.Deployment)))
	if !t.Native {
		w.adapter = w.newPanel("adapter pods", corev1informers.NewFilteredPodInformer(c, opts.AdapterNamespace, 0, nil,
			func(o *metav1.ListOptions) { o.LabelSelector = opts.AdapterSelector }))
	}
	return w
}

func (w *Watcher) newPanel(name string, inf cache.SharedIndexInformer) *panel {
	p := &panel{name: name, informer: inf}
	mark := func() { p.setErr(""); w.dirty.Store(true) }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { mark() },
		UpdateFunc: func(any, any) { mark() },
		DeleteFunc: func(any) { mark() },
	})
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return // normal end of a watch; the reflector resumes it
		}
		p.setErr(describeListError(err, name))
		w.dirty.Store(true)
	})
	return p
}

func describeListError(err error, what string) string {
	if apierrors.IsForbidden(err) {
		return fmt.Sprintf("forbidden: no RBAC to list/watch %s (%v)", what, apierrors.ReasonForError(err))
	}
	return fmt.Sprintf("watching %s: %v (retrying)", what, err)
}

// Run starts the informers, the adapter log tails and the metrics poll, and
// calls sink with a fresh snapshot on every tick on which something changed
// (and at least once per heartbeat). sink runs on Run's goroutine and must
// not block for long. Run returns when ctx is done.
func (w *Watcher) Run(ctx context.Context, sink func(Snapshot)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.startAdapterTails(ctx)
	var wg sync.WaitGroup
	for _, p := range w.panels() {
		wg.Add(1)
		go func() { defer wg.Done(); p.informer.RunWithContext(ctx) }()
	}
	if w.opts.Metrics != nil {
		wg.Add(1)
		go func() { defer wg.Done(); w.pollMetrics(ctx) }()
	}
	defer wg.Wait()

	tick := time.NewTicker(w.opts.Tick)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			now := w.opts.Now()
			if w.dirty.Swap(false) || now.Sub(last) >= w.opts.Heartbeat {
				last = now
				sink(w.Snapshot(now))
			}
		}
	}
}

func (w *Watcher) panels() []*panel {
	ps := []*panel{w.hpa, w.deploy, w.pods, w.hpaEvents, w.deployEvents}
	if w.adapter != nil {
		ps = append(ps, w.adapter)
	}
	return ps
}

// startAdapterTails follows the log of every adapter pod the adapter
// informer sees, and stops following a pod when it is deleted. A restarted
// container (an OOM kill, say) is reported as a highlighted line.
func (w *Watcher) startAdapterTails(ctx context.Context) {
	if w.adapter == nil {
		return // the native path: no adapter of ours
	}
	var mu sync.Mutex
	cancels := map[string]context.CancelFunc{}
	start := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, running := cancels[pod.Name]; running {
			return
		}
		tctx, tcancel := context.WithCancel(ctx)
		cancels[pod.Name] = tcancel
		t := &tailer{client: w.opts.Client, namespace: pod.Namespace, pod: pod.Name, since: w.opts.LogSince,
			buf: w.logs, notify: func() { w.dirty.Store(true) }, backoff: time.Second}
		go t.run(tctx)
	}
	stop := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			mu.Lock()
			if c := cancels[pod.Name]; c != nil {
				c()
				delete(cancels, pod.Name)
			}
			mu.Unlock()
		}
	}
	_, _ = w.adapter.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				if info := podInfo(pod); info.Restarts > 0 && info.LastTermination != "" {
					w.logs.add(w.opts.Now(), pod.Name, fmt.Sprintf("container has restarted %d times, last termination: %s",
						info.Restarts, info.LastTermination))
				}
			}
			start(obj)
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
			if before, after := podInfo(o), podInfo(n); after.Restarts > before.Restarts {
				w.logs.add(w.opts.Now(), n.Name, fmt.Sprintf("container restarted (restarts %d, last termination: %s)",
					after.Restarts, orUnknown(after.LastTermination)))
			}
			start(newObj)
		},
		DeleteFunc: stop,
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// pollMetrics reads the per-pod values of each Pods metric of the HPA.
func (w *Watcher) pollMetrics(ctx context.Context) {
	t := time.NewTicker(w.opts.MetricsInterval)
	defer t.Stop()
	for {
		w.pollMetricsOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Watcher) pollMetricsOnce(ctx context.Context) {
	hpa := w.currentHPA()
	if hpa == nil {
		return
	}
	vals, errs := map[string]map[string]float64{}, map[string]string{}
	for _, m := range hpa.Spec.Metrics {
		if m.Pods == nil {
			continue
		}
		v, err := w.opts.Metrics.PodValues(ctx, w.opts.Target.Namespace, m.Pods.Metric.Name, w.opts.Target.PodSelector)
		if err != nil {
			errs[m.Pods.Metric.Name] = err.Error()
			continue
		}
		vals[m.Pods.Metric.Name] = v
	}
	w.metricsMu.Lock()
	w.metricVals, w.metricErrs = vals, errs
	w.metricsMu.Unlock()
	w.dirty.Store(true)
}
