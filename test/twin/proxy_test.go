package twin_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// connect asks the twin's egress proxy for target, as the apiserver does.
func connect(t *testing.T, target string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("unix", tw.EgressSocket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
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
