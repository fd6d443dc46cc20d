package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// standIn is a loopback HTTPS server standing in for the Stackdriver
// adapter behind its Service (the twin's own stand-in adapter is not built
// yet): it serves discovery for the metrics APIs, and
// custom.metrics.k8s.io values for pods: the value set with setLoad for
// every pod the HPA's label selector matches. kwok's ClusterPortForward
// maps the adapter pods' port 443 to it, so the aggregator reaches it
// through the real Service, EndpointSlice and pod.
type standIn struct {
	srv  *httptest.Server
	mu   sync.Mutex
	load map[string]string // metric name -> value per pod
	hits map[string]int
	// total, when set for a metric, is spread evenly over the matching pods
	// (the load of a Service split across its replicas) instead of load.
	total map[string]float64
	// served, when set, hears of every answered pods query (the watch test
	// writes it to the adapter pod's log).
	onServe func(metric, namespace string, pods int, value string)
}

var clusterPortForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterportforwards"}

const adapterPortForward = "infer-hpa-e2e-adapter"

func startStandIn(t testing.TB) *standIn {
	t.Helper()
	s := &standIn{load: map[string]string{}, hits: map[string]int{}, total: map[string]float64{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.TLS = &tls.Config{}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	cpf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward",
		"metadata": map[string]any{"name": adapterPortForward},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{"custom-metrics"}},
			"forwards": []any{map[string]any{"ports": []any{int64(443)}, "target": map[string]any{"address": "127.0.0.1", "port": int64(p)}}},
		},
	}}
	ctx := context.Background()
	res := cluster.dyn.Resource(clusterPortForwardGVR)
	_ = res.Delete(ctx, adapterPortForward, metav1.DeleteOptions{})
	if _, err := res.Create(ctx, cpf, metav1.CreateOptions{}); err != nil {
		t.Fatalf("ClusterPortForward for the stand-in adapter: %v", err)
	}
	t.Cleanup(func() { _ = res.Delete(context.Background(), adapterPortForward, metav1.DeleteOptions{}) })
	return s
}

func (s *standIn) setLoad(metric, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load[metric] = value
}

func (s *standIn) served(metric string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[metric]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /apis/GROUP/VERSION: discovery, what the aggregator's availability check reads.
	if len(parts) == 3 && parts[0] == "apis" {
		kind := "MetricValueList"
		if parts[1] == "external.metrics.k8s.io" {
			kind = "ExternalMetricValueList"
		}
		writeJSON(w, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": parts[1] + "/" + parts[2],
			"resources": []any{map[string]any{"name": "pods/*", "singularName": "", "namespaced": true, "kind": kind, "verbs": []string{"get"}}}})
		return
	}
	// /apis/custom.metrics.k8s.io/VERSION/namespaces/NS/pods/*/METRIC
	if len(parts) == 8 && parts[1] == "custom.metrics.k8s.io" && parts[3] == "namespaces" && parts[5] == "pods" {
		s.podMetrics(w, r, parts[2], parts[4], parts[7])
		return
	}
	http.NotFound(w, r)
}

func (s *standIn) podMetrics(w http.ResponseWriter, r *http.Request, version, ns, metric string) {
	s.mu.Lock()
	value, ok := s.load[metric]
	total, spread := s.total[metric]
	onServe := s.onServe
	s.hits[metric]++
	s.mu.Unlock()
	if !ok && !spread {
		http.Error(w, fmt.Sprintf("no data for metric %s", metric), http.StatusNotFound)
		return
	}
	pods, err := cluster.kube.CoreV1().Pods(ns).List(r.Context(), metav1.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector")})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if spread {
		value = strconv.FormatFloat(total/float64(max(len(pods.Items), 1)), 'f', 3, 64)
	}
	if onServe != nil {
		onServe(metric, ns, len(pods.Items), value)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var items []any
	for _, p := range pods.Items {
		obj := map[string]any{"kind": "Pod", "namespace": ns, "name": p.Name, "apiVersion": "/v1"}
		item := map[string]any{"describedObject": obj, "timestamp": now, "windowSeconds": 60, "value": value}
		if version == "v1beta1" {
			item["metricName"] = metric
		} else {
			item["metric"] = map[string]any{"name": metric}
		}
		items = append(items, item)
	}
	writeJSON(w, map[string]any{"kind": "MetricValueList", "apiVersion": "custom.metrics.k8s.io/" + version, "metadata": map[string]any{}, "items": items})
}
