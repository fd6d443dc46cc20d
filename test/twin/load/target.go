// Package load drives OpenAI-compatible requests at the pods behind a
// twin Service, spread over its ready endpoints the way a Service spreads
// connections, and reports latency percentiles, throughput and errors.
package load

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Target is a Service in the twin. Requests go to a ready endpoint's
// podIP:port through the twin's egress proxy, which maps it to the pod's
// loopback target; nothing dials a pod IP directly.
type Target struct {
	Client             kubernetes.Interface
	Namespace, Service string
	// Port is the Service port; 0 picks its first port.
	Port int32
	// EgressSocket is the twin's egress proxy (Twin.EgressSocket).
	EgressSocket string
}

// endpoint is one ready pod behind the Service.
type endpoint struct {
	Pod  string
	Addr string // podIP:port
}

// endpoints follows the Service's EndpointSlices and hands out ready
// endpoints round robin (as kube-proxy's IPVS rr mode does).
type endpoints struct {
	slices   cache.SharedIndexInformer
	portName string
	next     atomic.Uint64
}

func watchEndpoints(ctx context.Context, t Target) (*endpoints, error) {
	svc, err := t.Client.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("load: service %s/%s: %w", t.Namespace, t.Service, err)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if t.Port == 0 || svc.Spec.Ports[i].Port == t.Port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return nil, fmt.Errorf("load: service %s/%s has no port %d", t.Namespace, t.Service, t.Port)
	}
	f := informers.NewSharedInformerFactoryWithOptions(t.Client, 0, informers.WithNamespace(t.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + "=" + t.Service
		}))
	e := &endpoints{slices: f.Discovery().V1().EndpointSlices().Informer(), portName: sp.Name}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), e.slices.HasSynced) {
		return nil, fmt.Errorf("load: endpoint slices of %s/%s did not sync", t.Namespace, t.Service)
	}
	return e, nil
}

// ready lists the ready endpoints, sorted by pod name.
func (e *endpoints) ready() []endpoint {
	var out []endpoint
	for _, obj := range e.slices.GetStore().List() {
		es := obj.(*discoveryv1.EndpointSlice)
		var port int32
		for _, p := range es.Ports {
			if p.Port != nil && (p.Name == nil && e.portName == "" || p.Name != nil && *p.Name == e.portName) {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range es.Endpoints {
			if len(ep.Addresses) == 0 || ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			pod := ep.Addresses[0]
			if ep.TargetRef != nil {
				pod = ep.TargetRef.Name
			}
			out = append(out, endpoint{Pod: pod, Addr: net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port)))})
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return cmpString(a.Pod, b.Pod) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pick returns the next ready endpoint.
func (e *endpoints) pick() (endpoint, bool) {
	eps := e.ready()
	if len(eps) == 0 {
		return endpoint{}, false
	}
	return eps[e.next.Add(1)%uint64(len(eps))], true
}

// egressDialer opens connections to in-cluster addresses through the twin's
// HTTP CONNECT egress proxy on a Unix socket.
func egressDialer(socket string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", socket)
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr); err != nil {
			conn.Close()
			return nil, err
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			conn.Close()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			conn.Close()
			return nil, fmt.Errorf("egress proxy refused %s: %s", addr, resp.Status)
		}
		if br.Buffered() > 0 {
			return &bufferedConn{Conn: conn, r: br}, nil
		}
		return conn, nil
	}
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
