package load

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ReadyPod is a pod that may take requests, and the port vLLM serves on.
type ReadyPod struct {
	Name string
	Port int32
}

// PodLister lists the ready pods of a target.
type PodLister func(ctx context.Context) ([]ReadyPod, error)

// ServicePods lists the ready endpoints of a Service's port (the first
// port when port is 0) from its EndpointSlices, as kube-proxy sees them.
func ServicePods(kube kubernetes.Interface, namespace string, svc *corev1.Service, port int32) (PodLister, error) {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if port == 0 || svc.Spec.Ports[i].Port == port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return nil, fmt.Errorf("service %s/%s has no port %d: pick one of its ports with --port", namespace, svc.Name, port)
	}
	name := sp.Name
	return func(ctx context.Context) ([]ReadyPod, error) {
		list, err := kube.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
		if err != nil {
			return nil, fmt.Errorf("listing the endpoints of service %s/%s: %w", namespace, svc.Name, err)
		}
		var out []ReadyPod
		for _, es := range list.Items {
			var p int32
			for _, ep := range es.Ports {
				if ep.Port != nil && (ep.Name == nil && name == "" || ep.Name != nil && *ep.Name == name) {
					p = *ep.Port
				}
			}
			if p == 0 {
				continue
			}
			for _, ep := range es.Endpoints {
				if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				out = append(out, ReadyPod{Name: ep.TargetRef.Name, Port: p})
			}
		}
		return out, nil
	}, nil
}

// SelectorPods lists the Ready pods matching a label selector (a
// Deployment's, matchLabels and matchExpressions), all serving on port.
func SelectorPods(kube kubernetes.Interface, namespace string, selector labels.Selector, port int32) PodLister {
	sel := selector.String()
	return func(ctx context.Context) ([]ReadyPod, error) {
		list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("listing pods %s in namespace %s: %w", sel, namespace, err)
		}
		var out []ReadyPod
		for i := range list.Items {
			if PodReady(&list.Items[i]) {
				out = append(out, ReadyPod{Name: list.Items[i].Name, Port: port})
			}
		}
		return out, nil
	}
}

// PodReady says whether a pod is Ready and not being deleted.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodsTarget spreads requests round robin over port-forwards to every
// ready pod of a target, following pods as they become ready or go.
type PodsTarget struct {
	cfg       *rest.Config
	kube      kubernetes.Interface
	namespace string
	list      PodLister
	// Warn receives problems while the run goes on (a lost forward).
	Warn func(string)

	mu    sync.Mutex
	fwds  map[string]*Forward
	ready []Endpoint
	next  atomic.Uint64
}

// NewPodsTarget forwards to the ready pods now listed; it is an error
// (before any request is sent) when there is none.
func NewPodsTarget(ctx context.Context, cfg *rest.Config, kube kubernetes.Interface, namespace string, list PodLister, what string) (*PodsTarget, error) {
	t := &PodsTarget{cfg: cfg, kube: kube, namespace: namespace, list: list, fwds: map[string]*Forward{}, Warn: func(string) {}}
	pods, err := list(ctx)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("%s has no ready endpoints: wait until its pods are Ready (kubectl get pods -n %s), or check its selector", what, namespace)
	}
	if err := t.sync(ctx, pods); err != nil && len(t.ready) == 0 {
		return nil, err
	}
	return t, nil
}

// Pods are the pods requests go to now.
func (t *PodsTarget) Pods() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, e := range t.ready {
		out = append(out, e.Name)
	}
	return out
}

// Pick returns the next ready pod's forward.
func (t *PodsTarget) Pick() (Endpoint, bool) {
	t.mu.Lock()
	eps := t.ready
	t.mu.Unlock()
	if len(eps) == 0 {
		return Endpoint{}, false
	}
	return eps[t.next.Add(1)%uint64(len(eps))], true
}

// Follow re-lists the pods every interval until ctx ends.
func (t *PodsTarget) Follow(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pods, err := t.list(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.Warn(err.Error())
			}
			continue
		}
		if err := t.sync(ctx, pods); err != nil && ctx.Err() == nil {
			t.Warn(err.Error())
		}
	}
}

// sync opens forwards to new ready pods and closes those of pods gone.
func (t *PodsTarget) sync(ctx context.Context, pods []ReadyPod) error {
	want := map[string]ReadyPod{}
	for _, p := range pods {
		want[p.Name] = p
	}
	var firstErr error
	t.mu.Lock()
	for name, f := range t.fwds {
		if _, ok := want[name]; !ok || f.Lost() {
			if f.Lost() && ok {
				t.Warn(fmt.Sprintf("port-forward to pod %s ended (%v); reopening", name, f.Err()))
			}
			go f.Close()
			delete(t.fwds, name)
		}
	}
	var missing []ReadyPod
	for name, p := range want {
		if _, ok := t.fwds[name]; !ok {
			missing = append(missing, p)
		}
	}
	t.mu.Unlock()
	for _, p := range missing {
		f, err := ForwardPod(ctx, t.cfg, t.kube, t.namespace, p.Name, p.Port)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		t.mu.Lock()
		t.fwds[p.Name] = f
		t.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ready = t.ready[:0:0]
	for name, f := range t.fwds {
		t.ready = append(t.ready, Endpoint{Base: f.Base(), Name: name})
	}
	slices.SortFunc(t.ready, func(a, b Endpoint) int { return strings.Compare(a.Name, b.Name) })
	return firstErr
}

// Close ends every forward.
func (t *PodsTarget) Close() {
	t.mu.Lock()
	fwds := t.fwds
	t.fwds = map[string]*Forward{}
	t.ready = nil
	t.mu.Unlock()
	for _, f := range fwds {
		f.Close()
	}
}
