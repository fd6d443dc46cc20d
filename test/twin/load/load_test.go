package load_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/load"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

// connectProxy is a minimal stand-in for the twin's egress proxy: CONNECT
// to a pod IP:port is piped to that pod's loopback server.
func connectProxy(t *testing.T, routes map[string]string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "egress.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				target, ok := routes[req.Host]
				if !ok {
					_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { _, _ = io.Copy(up, br) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return sock
}

func TestRateModeSpreadsOverReadyEndpointsOnly(t *testing.T) {
	m := vllm.DefaultModel()
	m.Speed = 50
	var servers []*vllm.Server
	for range 3 {
		s, err := vllm.Start(m, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		servers = append(servers, s)
	}
	sock := connectProxy(t, map[string]string{
		"10.4.0.1:8081": servers[0].Addr(), "10.4.0.2:8081": servers[1].Addr(), "10.4.0.3:8081": servers[2].Addr(),
	})
	yes, no := true, false
	port, name := int32(8081), ""
	ep := func(ip, pod string, ready *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod}}
	}
	client := fake.NewClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "default"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "svc-abc", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "svc"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
			Endpoints:   []discoveryv1.Endpoint{ep("10.4.0.1", "a", &yes), ep("10.4.0.2", "b", nil), ep("10.4.0.3", "c", &no)},
		})
	began := time.Now()
	res, err := load.Run(context.Background(), load.Target{Client: client, Namespace: "default", Service: "svc", EgressSocket: sock},
		load.Options{Rate: 100, Concurrency: 10, Requests: 40, MaxTokens: 16, Stream: true, Chat: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Requests != 40 || res.Errors != 0 {
		t.Fatalf("%d requests, %d errors %v", res.Requests, res.Errors, res.ErrorSamples)
	}
	if res.ByPod["a"] != 20 || res.ByPod["b"] != 20 || res.ByPod["c"] != 0 {
		t.Errorf("by pod %v, want 20/20 on the ready pods a and b, none on the unready c", res.ByPod)
	}
	// 40 requests at 100/s take about 0.4 s: the rate holds them back.
	if d := time.Since(began); d < 350*time.Millisecond {
		t.Errorf("40 requests at 100/s took only %s", d)
	}
	if res.Tokens != 40*16 || len(res.TTFT) != 40 || res.TTFT[0] <= 0 || res.TTFT[0] > res.Percentile(50) {
		t.Errorf("tokens %d, TTFT %v vs latency p50 %s", res.Tokens, res.TTFT[:min(3, len(res.TTFT))], res.Percentile(50))
	}
	if servers[2].Stats().Finished != 0 {
		t.Error("the unready pod's server got requests")
	}
}

func TestOptionsMustBound(t *testing.T) {
	_, err := load.Run(context.Background(), load.Target{Client: fake.NewClientset()}, load.Options{Concurrency: 2})
	if err == nil {
		t.Fatal("a run without Requests or Duration was accepted")
	}
}
