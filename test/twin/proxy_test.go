package twin_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// connect asks the twin's egress proxy for target, as the apiserver does.
func connect(t *testing.T, target string) *http.Response {
	t.Helper()
	resp, _, _ := tunnel(t, target)
	return resp
}

// tunnel is connect that also returns the tunnel for traffic.
func tunnel(t *testing.T, target string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("unix", tw.EgressSocket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, conn, br
}

// TestEgressProxyRefusesUnmapped: addresses no Service, pod or node owns,
// and a node's non-kubelet port, are refused (and never dialled).
func TestEgressProxyRefusesUnmapped(t *testing.T) {
	nodes, err := tw.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	nodeIP := nodes.Items[0].Status.Addresses[0].Address
	for _, target := range []string{"10.96.250.250:443", "192.0.2.10:80", net.JoinHostPort(nodeIP, "22")} {
		resp := connect(t, target)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("CONNECT %s: %s, want 403", target, resp.Status)
		}
		if log := tw.Logs("egress-proxy", 50); !strings.Contains(log, "REFUSE "+target) {
			t.Errorf("no REFUSE line for %s in the egress proxy log:\n%s", target, log)
		}
	}
}

// TestEgressProxyMapsKubelet: a node's IP:10250 goes to kwok's kubelet
// server on loopback.
func TestEgressProxyMapsKubelet(t *testing.T) {
	nodes, err := tw.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	n := nodes.Items[0]
	target := net.JoinHostPort(n.Status.Addresses[0].Address, "10250")
	if resp := connect(t, target); resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %s, want 200", target, resp.Status)
	}
	if log := tw.Logs("egress-proxy", 50); !strings.Contains(log, "CONNECT "+target+" -> 127.0.0.1:") {
		t.Errorf("no CONNECT line for %s:\n%s", target, log)
	}
}

// TestEgressProxyPodIPThroughClusterPortForward: a pod IP:port maps through
// a ClusterPortForward (kwok's cluster-wide kind) to a loopback server, and
// HTTP flows through the tunnel.
func TestEgressProxyPodIPThroughClusterPortForward(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "reached through a ClusterPortForward")
	}))
	defer srv.Close()
	pod := runningPod(t, "cpf-target", nil, 9090)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cpf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward",
		"metadata": map[string]any{"name": "twin-test-cpf"},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{"default"}, "matchNames": []any{"cpf-target"}},
			"forwards": []any{map[string]any{"ports": []any{int64(9090)}, "target": map[string]any{"address": "127.0.0.1", "port": mustAtoi(t, port)}}},
		},
	}}
	gvr := schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterportforwards"}
	res := dynamic.NewForConfigOrDie(tw.Config).Resource(gvr)
	ctx := context.Background()
	if _, err := res.Create(ctx, cpf, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer res.Delete(ctx, "twin-test-cpf", metav1.DeleteOptions{})
	target := net.JoinHostPort(pod.Status.PodIP, "9090")
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, conn, br := tunnel(t, target)
		if resp.StatusCode == http.StatusOK {
			fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
			got, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(got.Body)
			if string(body) != "reached through a ClusterPortForward" {
				t.Errorf("body through the tunnel = %q", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CONNECT %s: %s; proxy log:\n%s", target, resp.Status, tw.Logs("egress-proxy", 10))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
