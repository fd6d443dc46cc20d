// Package runner brings the twin's kwok pods to life: each vLLM pod gets a
// simulated vLLM server (package vllm) behind its container ports and a
// vLLM-like log, and each GPU node a simulated DCGM exporter pod (package
// dcgm) in gke-managed-system. It runs inside the twin process (twin.Start
// starts it when Options.Simulate is set).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/dcgm"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

// Host is what the runner needs from the twin (package twin provides it;
// the runner does not import twin, which starts the runner).
type Host struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// ForwardPodPort maps a pod's port to a loopback target (Twin.ForwardPodPort).
	ForwardPodPort func(ctx context.Context, namespace, pod string, port int32, target string) error
	// PodLogFile gives a pod's container a log file (Twin.PodLogFile);
	// AppendLog appends lines to it (twin.AppendLog).
	PodLogFile func(ctx context.Context, namespace, pod, container string) (string, error)
	AppendLog  func(path string, lines ...string) error
	// Log receives the runner's own progress lines.
	Log io.Writer
}

// Options shape the simulation. The zero value is usable.
type Options struct {
	// Model is the base behaviour of every vLLM server; a pod's --model,
	// --served-model-name, --max-num-seqs and --max-model-len override it.
	// Zero: vllm.DefaultModel().
	Model vllm.Model
	// Speed, when set, overrides Model.Speed (model seconds per wall second).
	Speed float64
	// ModelLoadDelay is the wall time from a vLLM pod's start to Ready
	// (kwok's pod-ready-vllm stage). Zero: 2s.
	ModelLoadDelay time.Duration
	// LegacyMetrics makes every server also expose vllm:gpu_cache_usage_perc.
	LegacyMetrics bool
	// DCGMInterval is the exporters' sampling period. Zero: 1s.
	DCGMInterval time.Duration
	// StatsLogInterval is how often a busy server logs its throughput line,
	// as vLLM does every 10s. Zero: 10s.
	StatsLogInterval time.Duration
}

// Complete fills in defaults.
func (o *Options) Complete() {
	if o.Model.Name == "" {
		o.Model = vllm.DefaultModel()
	}
	if o.Speed > 0 {
		o.Model.Speed = o.Speed
	}
	o.Model.LegacyMetrics = o.Model.LegacyMetrics || o.LegacyMetrics
	if o.ModelLoadDelay <= 0 {
		o.ModelLoadDelay = 2 * time.Second
	}
	if o.DCGMInterval <= 0 {
		o.DCGMInterval = time.Second
	}
	if o.StatsLogInterval <= 0 {
		o.StatsLogInterval = 10 * time.Second
	}
}

var (
	portForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}
	logsGVR        = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}
)

// Runner watches pods and runs their simulators.
type Runner struct {
	h     Host
	o     Options
	pods  cache.SharedIndexInformer
	nodes cache.SharedIndexInformer
	queue workqueue.TypedRateLimitingInterface[string]

	mu    sync.Mutex
	vllms map[string]*vllmPod
	dcgms map[string]*dcgmPod

	cancel context.CancelFunc
	done   chan struct{}
}

const nodeIndex = "node"

// Start installs the DCGM exporter DaemonSet and its ClusterPodMonitoring,
// starts watching pods and returns once the caches are synced.
func Start(ctx context.Context, h Host, o Options) (*Runner, error) {
	o.Complete()
	if err := o.Model.Validate(); err != nil {
		return nil, err
	}
	if h.Log == nil {
		h.Log = io.Discard
	}
	if err := installDCGM(ctx, h); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(h.Client, 0)
	r := &Runner{h: h, o: o, pods: f.Core().V1().Pods().Informer(), nodes: f.Core().V1().Nodes().Informer(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		vllms: map[string]*vllmPod{}, dcgms: map[string]*dcgmPod{},
		cancel: cancel, done: make(chan struct{})}
	_ = r.pods.AddIndexers(cache.Indexers{nodeIndex: func(obj any) ([]string, error) {
		return []string{obj.(*corev1.Pod).Spec.NodeName}, nil
	}})
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			r.queue.Add(key)
		}
	}
	_, _ = r.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, DeleteFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }})
	f.Start(rctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), r.pods.HasSynced, r.nodes.HasSynced) {
		cancel()
		r.queue.ShutDown()
		return nil, errors.New("runner: pod and node caches did not sync")
	}
	go r.work(rctx)
	return r, nil
}

// Stop ends every simulator and the watch.
func (r *Runner) Stop() {
	r.cancel()
	r.queue.ShutDown()
	<-r.done
	r.mu.Lock()
	vllms, dcgms := r.vllms, r.dcgms
	r.vllms, r.dcgms = map[string]*vllmPod{}, map[string]*dcgmPod{}
	r.mu.Unlock()
	// Closed without r.mu: an exporter's sampling reads r.gpus, which locks it.
	for _, d := range dcgms {
		_ = d.exp.Close()
	}
	for _, p := range vllms {
		p.stop()
	}
}

// Server returns the simulated vLLM server of a pod, or nil.
func (r *Runner) Server(namespace, pod string) *vllm.Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.vllms[namespace+"/"+pod]; p != nil {
		return p.srv
	}
	return nil
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.h.Log, "sim: "+format+"\n", args...)
}

func (r *Runner) work(ctx context.Context) {
	defer close(r.done)
	for {
		key, quit := r.queue.Get()
		if quit {
			return
		}
		if err := r.reconcile(ctx, key); err != nil && ctx.Err() == nil {
			r.logf("%s: %v (retrying)", key, err)
			r.queue.AddRateLimited(key)
		} else {
			r.queue.Forget(key)
		}
		r.queue.Done(key)
	}
}

// reconcile starts or stops the simulators of one pod.
func (r *Runner) reconcile(ctx context.Context, key string) error {
	obj, exists, err := r.pods.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	var pod *corev1.Pod
	if exists {
		pod = obj.(*corev1.Pod)
	}
	gone := pod == nil || pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	r.mu.Lock()
	v, d := r.vllms[key], r.dcgms[key]
	var stopV *vllmPod
	var stopD *dcgmPod
	if v != nil && (gone || v.uid != pod.UID) {
		delete(r.vllms, key)
		stopV, v = v, nil
	}
	if d != nil && (gone || d.uid != pod.UID) {
		delete(r.dcgms, key)
		stopD, d = d, nil
	}
	r.mu.Unlock()
	if stopV != nil {
		stopV.stop()
		r.logf("stopped vLLM server of pod %s", key)
	}
	if stopD != nil {
		_ = stopD.exp.Close()
		r.logf("stopped DCGM exporter of pod %s", key)
	}
	if gone {
		if pod == nil {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			r.forget(ctx, ns, name)
		}
		return nil
	}
	if pod.Spec.NodeName == "" {
		return nil
	}
	switch {
	case v == nil && IsVLLM(pod):
		return r.startVLLM(ctx, pod)
	case d == nil && isDCGMPod(pod):
		return r.startDCGM(ctx, pod)
	}
	return nil
}

// forget deletes the kwok PortForward and Logs objects named like a pod
// that is gone.
func (r *Runner) forget(ctx context.Context, namespace, name string) {
	if r.h.Dynamic == nil {
		return
	}
	for _, gvr := range []schema.GroupVersionResource{portForwardGVR, logsGVR} {
		_ = r.h.Dynamic.Resource(gvr).Namespace(namespace).Delete(ctx, name, deleteNow)
	}
}

// gpus lists a GPU node's devices and the containers holding them, in
// the order the pods were created (the device plugin's choice on a real
// node is not visible; this is the twin's).
func (r *Runner) gpus(node string) []dcgm.GPU {
	capacity := 0
	if obj, ok, _ := r.nodes.GetIndexer().GetByKey(node); ok {
		q := obj.(*corev1.Node).Status.Capacity[gpuResource]
		capacity = int(q.Value())
	}
	out := make([]dcgm.GPU, capacity)
	objs, _ := r.pods.GetIndexer().ByIndex(nodeIndex, node)
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			pods = append(pods, p)
		}
	}
	sortPods(pods)
	next := 0
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			q := c.Resources.Limits[gpuResource]
			for range q.Value() {
				if next >= capacity {
					return out
				}
				out[next] = dcgm.GPU{Pod: p.Name, Namespace: p.Namespace, Container: c.Name, Load: r.loadOf(p.Namespace+"/"+p.Name, p.UID)}
				next++
			}
		}
	}
	return out
}

// loadOf samples the vLLM server of a pod, when one runs.
func (r *Runner) loadOf(key string, uid types.UID) func() dcgm.Load {
	r.mu.Lock()
	v := r.vllms[key]
	r.mu.Unlock()
	if v == nil || v.uid != uid {
		return nil
	}
	return func() dcgm.Load {
		s := v.srv.Stats()
		return dcgm.Load{Busy: s.Busy, BatchFill: float64(s.Running) / float64(v.srv.Model().MaxNumSeqs)}
	}
}
