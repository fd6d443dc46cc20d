package twin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// egressProxy is the apiserver's "cluster" egress: an HTTP CONNECT proxy on
// a Unix socket. It maps the in-cluster address the apiserver asks for
// (a Service's ClusterIP:port, a pod IP:port, a node's IP:10250) to a
// loopback address, dials only that, refuses anything it cannot map, and
// logs every decision. It never dials the address it was asked for.
type egressProxy struct {
	ln       net.Listener
	kwokAddr string
	logFile  *os.File
	log      *log.Logger
	srv      *http.Server
	ready    chan struct{}
	readyMu  sync.Once
	routes   *routes
}

func listenEgressProxy(socket, kwokAddr, logPath string) (*egressProxy, error) {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p := &egressProxy{ln: ln, kwokAddr: kwokAddr, logFile: f, log: log.New(f, "", log.LstdFlags|log.Lmicroseconds), ready: make(chan struct{})}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// start watches the objects the routes come from.
func (p *egressProxy) start(ctx context.Context, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	p.routes = newRoutes(ctx, client, dyn, p.kwokAddr)
	go func() {
		if p.routes.sync(ctx) {
			p.readyMu.Do(func() { close(p.ready) })
		}
	}()
	return nil
}

func (p *egressProxy) close() error {
	err := p.srv.Close()
	p.logFile.Close()
	return err
}

func (p *egressProxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.log.Printf("REFUSE %s %s: only CONNECT is served", r.Method, r.Host)
		http.Error(w, "only CONNECT", http.StatusMethodNotAllowed)
		return
	}
	select {
	case <-p.ready:
	case <-time.After(10 * time.Second):
		p.log.Printf("REFUSE %s: routes not synced", r.Host)
		http.Error(w, "routes not synced", http.StatusServiceUnavailable)
		return
	}
	target, why, err := p.routes.resolve(r.Host)
	if err != nil {
		p.log.Printf("REFUSE %s: %v", r.Host, err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if err := requireLoopback(target); err != nil {
		p.log.Printf("REFUSE %s -> %s (%s): %v", r.Host, target, why, err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	upstream, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		p.log.Printf("FAIL %s -> %s (%s): %v", r.Host, target, why, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.log.Printf("CONNECT %s -> %s (%s)", r.Host, target, why)
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go pipe(conn, brw.Reader, upstream)
}

// pipe copies both ways until either side closes.
func pipe(client net.Conn, buffered *bufio.Reader, upstream net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(upstream, buffered); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, upstream); done <- struct{}{} }()
	<-done
	client.Close()
	upstream.Close()
	<-done
}

func requireLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %s is not a loopback address", hostport)
	}
	return nil
}

// routes answers "where does this in-cluster address live on loopback?"
// from informers over Nodes, Services, EndpointSlices, Pods and kwok's
// PortForward/ClusterPortForward objects.
type routes struct {
	kwokAddr  string
	factory   informers.SharedInformerFactory
	dfactory  dynamicinformer.DynamicSharedInformerFactory
	nodes     cache.SharedIndexInformer
	services  cache.SharedIndexInformer
	slices    cache.SharedIndexInformer
	pods      cache.SharedIndexInformer
	pfs, cpfs cache.SharedIndexInformer
}

const ipIndex = "ip"

var (
	portForwardGVR        = schema.GroupVersionResource{Group: kwokGroup, Version: "v1alpha1", Resource: "portforwards"}
	clusterPortForwardGVR = schema.GroupVersionResource{Group: kwokGroup, Version: "v1alpha1", Resource: "clusterportforwards"}
	// LogsGVR is kwok's per-pod logs kind (see Twin.PodLogFile).
	LogsGVR = schema.GroupVersionResource{Group: kwokGroup, Version: "v1alpha1", Resource: "logs"}
	// PortForwardGVR is kwok's per-pod port-forward kind (see Twin.ForwardPodPort).
	PortForwardGVR = portForwardGVR
)

func newRoutes(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, kwokAddr string) *routes {
	r := &routes{kwokAddr: kwokAddr}
	r.factory = informers.NewSharedInformerFactory(client, 0)
	r.dfactory = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	r.nodes = r.factory.Core().V1().Nodes().Informer()
	r.services = r.factory.Core().V1().Services().Informer()
	r.slices = r.factory.Discovery().V1().EndpointSlices().Informer()
	r.pods = r.factory.Core().V1().Pods().Informer()
	_ = r.nodes.AddIndexers(cache.Indexers{ipIndex: func(obj any) ([]string, error) {
		var ips []string
		for _, a := range obj.(*corev1.Node).Status.Addresses {
			ips = append(ips, a.Address)
		}
		return ips, nil
	}})
	_ = r.services.AddIndexers(cache.Indexers{ipIndex: func(obj any) ([]string, error) {
		return obj.(*corev1.Service).Spec.ClusterIPs, nil
	}})
	_ = r.pods.AddIndexers(cache.Indexers{ipIndex: func(obj any) ([]string, error) {
		var ips []string
		for _, ip := range obj.(*corev1.Pod).Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return ips, nil
	}})
	r.pfs = r.dfactory.ForResource(portForwardGVR).Informer()
	r.cpfs = r.dfactory.ForResource(clusterPortForwardGVR).Informer()
	r.factory.Start(ctx.Done())
	r.dfactory.Start(ctx.Done())
	return r
}

func (r *routes) sync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), r.nodes.HasSynced, r.services.HasSynced, r.slices.HasSynced,
		r.pods.HasSynced, r.pfs.HasSynced, r.cpfs.HasSynced)
}

// resolve maps host:port to a loopback target and says why.
func (r *routes) resolve(hostport string) (target, why string, err error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", "", err
	}
	port64, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil {
		return "", "", fmt.Errorf("bad port %q", portStr)
	}
	port := int32(port64)
	if objs, _ := r.nodes.GetIndexer().ByIndex(ipIndex, host); len(objs) > 0 {
		n := objs[0].(*corev1.Node)
		if port != n.Status.DaemonEndpoints.KubeletEndpoint.Port {
			return "", "", fmt.Errorf("node %s serves its kubelet on %d, not %d", n.Name, n.Status.DaemonEndpoints.KubeletEndpoint.Port, port)
		}
		return r.kwokAddr, "kubelet of node " + n.Name + " (kwok)", nil
	}
	if objs, _ := r.services.GetIndexer().ByIndex(ipIndex, host); len(objs) > 0 {
		return r.serviceTarget(objs[0].(*corev1.Service), port)
	}
	if objs, _ := r.pods.GetIndexer().ByIndex(ipIndex, host); len(objs) > 0 {
		pod := objs[0].(*corev1.Pod)
		target, err := r.podTarget(pod.Namespace, pod.Name, port)
		if err != nil {
			return "", "", err
		}
		return target, fmt.Sprintf("pod %s/%s port %d", pod.Namespace, pod.Name, port), nil
	}
	return "", "", errors.New("no node, service or pod has this address")
}

func (r *routes) serviceTarget(svc *corev1.Service, port int32) (string, string, error) {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return "", "", fmt.Errorf("service %s/%s has no port %d", svc.Namespace, svc.Name, port)
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
	var lastErr error = fmt.Errorf("service %s/%s has no ready endpoint", svc.Namespace, svc.Name)
	for _, obj := range r.slices.GetIndexer().List() {
		es := obj.(*discoveryv1.EndpointSlice)
		if es.Namespace != svc.Namespace || !sel.Matches(labels.Set(es.Labels)) {
			continue
		}
		podPort, ok := slicePort(es, sp.Name)
		if !ok {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			target, err := r.podTarget(ep.TargetRef.Namespace, ep.TargetRef.Name, podPort)
			if err != nil {
				lastErr = err
				continue
			}
			return target, fmt.Sprintf("service %s/%s port %d -> pod %s/%s port %d", svc.Namespace, svc.Name, port, ep.TargetRef.Namespace, ep.TargetRef.Name, podPort), nil
		}
	}
	return "", "", lastErr
}

func slicePort(es *discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range es.Ports {
		if p.Port != nil && (p.Name == nil && name == "" || p.Name != nil && *p.Name == name) {
			return *p.Port, true
		}
	}
	return 0, false
}
