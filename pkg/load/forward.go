package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// Forward is a port-forward to one pod, as `kubectl port-forward` makes it
// (websocket, falling back to SPDY), on a free loopback port.
type Forward struct {
	Pod   string
	Local string // 127.0.0.1:PORT
	stop  chan struct{}
	done  chan struct{}
	err   error
	errMu sync.Mutex
}

// ForwardPod opens a port-forward to port of the pod and waits until it
// listens.
func ForwardPod(ctx context.Context, cfg *rest.Config, kube kubernetes.Interface, namespace, pod string, port int32) (*Forward, error) {
	u := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		return nil, err
	}
	dialer = portforward.NewFallbackDialerForStreaming(ws, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	f := &Forward{Pod: pod, stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	var errOut bytes.Buffer
	pf, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(int(port))}, f.stop, ready, nil, &syncWriter{w: &errOut})
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(f.done)
		err := pf.ForwardPorts()
		f.errMu.Lock()
		f.err = err
		f.errMu.Unlock()
	}()
	select {
	case <-ready:
	case <-f.done:
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: %v", namespace, pod, port, firstLine(f.Err(), errOut.String()))
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port (%v)", namespace, pod, err)
	}
	f.Local = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return f, nil
}

// Base is the forward's base URL.
func (f *Forward) Base() string { return "http://" + f.Local }

// Lost says whether the forward has ended (the pod went away).
func (f *Forward) Lost() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// Err is why the forward ended.
func (f *Forward) Err() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}

// Close stops the forward.
func (f *Forward) Close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
}

func firstLine(err error, stderr string) string {
	s := strings.TrimSpace(stderr)
	if err != nil {
		s = err.Error()
	}
	line, _, _ := strings.Cut(s, "\n")
	if line == "" {
		return "it ended before it listened"
	}
	return line
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w.Len() > 4096 {
		return len(p), nil
	}
	return s.w.Write(p)
}
