// Package adapterpod runs the real custom-metrics-stackdriver-adapter for
// every adapter pod of the twin, as a kubelet would: the pod's own command,
// args and env, plus only what a pod on GKE gets from its environment (a
// loopback bind address and port that kwok forwards the pod's container
// port to; kubeconfigs holding a token of the pod's own service account;
// GCE_METADATA_HOST pointing at a GKE metadata server for the pod; the
// twin's Cloud Monitoring endpoint; an empty HOME). A small supervisor
// gives the container a kubelet's life: restarts with CrashLoopBackOff,
// restartCount, lastState.terminated, readiness from the rendered
// readinessProbe, and its output in the pod's log in CRI format (kubectl
// logs and --previous). See docs/twin.md.
package adapterpod

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/metadataserver"
)

// ImageMarker tells the adapter's pods: a container whose image names it.
const ImageMarker = "custom-metrics-stackdriver-adapter"

// IsAdapterExpr is the jq expression kwok evaluates to tell an adapter pod
// (IsAdapter in Go).
const IsAdapterExpr = `[.spec.containers[] | .image] | any(test("` + ImageMarker + `"))`

// IsAdapter tells whether a pod runs the adapter.
func IsAdapter(pod *corev1.Pod) bool { return adapterContainer(pod) >= 0 }

func adapterContainer(pod *corev1.Pod) int {
	for i, c := range pod.Spec.Containers {
		if strings.Contains(c.Image, ImageMarker) {
			return i
		}
	}
	return -1
}

// Host is what the supervisor needs from the twin.
type Host struct {
	Client kubernetes.Interface
	// Config reaches the apiserver (its Host and CA go into the pods'
	// kubeconfigs; its credentials do not).
	Config *rest.Config
	// ForwardPodPort maps a pod's port to a loopback target (Twin.ForwardPodPort).
	ForwardPodPort func(ctx context.Context, namespace, pod string, port int32, target string) error
	// PodLogFiles points kwok's Logs for a container at its current and
	// previous log files (Twin.PodLogFiles).
	PodLogFiles func(ctx context.Context, namespace, pod, container, current, previous string) error
}

// Options shape the supervisor.
type Options struct {
	// Binary is the adapter built by hack/build-adapter.sh.
	Binary string
	// Dir holds one folder per pod (certificates, home, kubeconfig, logs).
	Dir string
	// Metadata answers every pod's GKE metadata server.
	Metadata *metadataserver.Cluster
	// MonitoringURL is the twin's Cloud Monitoring ("http://127.0.0.1:PORT/").
	MonitoringURL string
	// BackOff is the first restart delay (10s as a kubelet); MaxBackOff caps
	// its doubling (5m).
	BackOff, MaxBackOff time.Duration
	// Log receives the supervisor's own lines.
	Log io.Writer
}

// Supervisor runs the adapter pods.
type Supervisor struct {
	h    Host
	o    Options
	pods cache.SharedIndexInformer

	mu     sync.Mutex
	runs   map[types.UID]*podRun
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start watches pods and runs every scheduled adapter pod until Stop.
func Start(ctx context.Context, h Host, o Options) (*Supervisor, error) {
	if o.BackOff == 0 {
		o.BackOff = 10 * time.Second
	}
	if o.MaxBackOff == 0 {
		o.MaxBackOff = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := informers.NewSharedInformerFactory(h.Client, 0)
	s := &Supervisor{h: h, o: o, pods: f.Core().V1().Pods().Informer(), runs: map[types.UID]*podRun{}, cancel: cancel}
	_, _ = s.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.sync(rctx, obj) },
		UpdateFunc: func(_, obj any) { s.sync(rctx, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				s.stopPod(p.UID)
			}
		},
	})
	f.Start(rctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.pods.HasSynced) {
		cancel()
		return nil, fmt.Errorf("adapter pods: pod cache did not sync")
	}
	return s, nil
}

func (s *Supervisor) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "adapter pods: "+format+"\n", args...)
}

// sync starts the run of a scheduled, running adapter pod and stops the
// run of one being deleted.
func (s *Supervisor) sync(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || !IsAdapter(pod) {
		return
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		s.stopPod(pod.UID)
		return
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase != corev1.PodRunning {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs[pod.UID] != nil || ctx.Err() != nil {
		return
	}
	r := newPodRun(s, pod)
	s.runs[pod.UID] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run(ctx)
	}()
}

func (s *Supervisor) stopPod(uid types.UID) {
	s.mu.Lock()
	r := s.runs[uid]
	delete(s.runs, uid)
	s.mu.Unlock()
	if r != nil {
		r.stop()
	}
}

// Stop ends every adapter process and the watch.
func (s *Supervisor) Stop() {
	s.cancel()
	s.mu.Lock()
	runs := s.runs
	s.runs = map[types.UID]*podRun{}
	s.mu.Unlock()
	for _, r := range runs {
		r.stop()
	}
	s.wg.Wait()
}

// PIDs are the process ids of the adapter processes running now.
func (s *Supervisor) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, r := range s.runs {
		if pid := r.pid(); pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}
