package native

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// Prefix starts every metric name the stand-in serves:
// autoscaling.gke.io|OBJECT|GAUGE.
const Prefix = "autoscaling.gke.io"

var podsResource = corev1.Resource("pods")

// gauge is one gauge of one AutoscalingMetric: where to read it.
type gauge struct {
	namespace, object, name, promName string
	selector                          k8slabels.Selector
	port                              int32
	path                              string
	created                           time.Time
}

func (g gauge) metric() string { return Prefix + "|" + g.object + "|" + g.name }

// gauges lists every gauge of every AutoscalingMetric, oldest object first,
// the first MaxMetrics unique metric names only (GKE's per-cluster limit).
func (s *Server) gauges() []gauge {
	var all []gauge
	for _, obj := range s.objects.GetStore().List() {
		all = append(all, objectGauges(obj.(*unstructured.Unstructured))...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].created.Before(all[j].created) })
	seen := map[string]bool{}
	var out []gauge
	for _, g := range all {
		if !seen[g.metric()] && len(seen) == MaxMetrics {
			fmt.Fprintf(s.log, "native: %s/%s: %s not served: the cluster already exposes %d unique metrics\n", g.namespace, g.object, g.metric(), MaxMetrics)
			continue
		}
		seen[g.metric()] = true
		out = append(out, g)
	}
	return out
}

func objectGauges(u *unstructured.Unstructured) []gauge {
	var out []gauge
	metrics, _, _ := unstructured.NestedSlice(u.Object, "spec", "metrics")
	for _, m := range metrics {
		pod, _, _ := unstructured.NestedMap(asMap(m), "pod")
		ml, _, _ := unstructured.NestedStringMap(pod, "selector", "matchLabels")
		containers, _, _ := unstructured.NestedSlice(pod, "containers")
		for _, c := range containers {
			cm := asMap(c)
			port, _, _ := unstructured.NestedInt64(cm, "endpoint", "port")
			path, _, _ := unstructured.NestedString(cm, "endpoint", "path")
			if path == "" {
				path = "/metrics"
			}
			gs, _, _ := unstructured.NestedSlice(cm, "metrics")
			for _, gm := range gs {
				name, _, _ := unstructured.NestedString(asMap(gm), "gauge", "name")
				prom, _, _ := unstructured.NestedString(asMap(gm), "gauge", "prometheusMetricName")
				out = append(out, gauge{namespace: u.GetNamespace(), object: u.GetName(), name: name, promName: prom,
					selector: k8slabels.SelectorFromSet(ml), port: int32(port), path: path, created: u.GetCreationTimestamp().Time})
			}
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ListAllMetrics lists every gauge's metric as a namespaced pods metric.
func (s *Server) ListAllMetrics() []provider.CustomMetricInfo {
	var out []provider.CustomMetricInfo
	seen := map[string]bool{}
	for _, g := range s.gauges() {
		if !seen[g.metric()] {
			seen[g.metric()] = true
			out = append(out, provider.CustomMetricInfo{GroupResource: podsResource, Namespaced: true, Metric: g.metric()})
		}
	}
	return out
}

// find returns the gauge behind a metric name in a namespace.
func (s *Server) find(namespace string, info provider.CustomMetricInfo) (gauge, error) {
	if info.GroupResource != podsResource || !strings.HasPrefix(info.Metric, Prefix+"|") {
		return gauge{}, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	for _, g := range s.gauges() {
		if g.namespace == namespace && g.metric() == info.Metric {
			return g, nil
		}
	}
	return gauge{}, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
}

// GetMetricByName serves one pod's gauge.
func (s *Server) GetMetricByName(ctx context.Context, name types.NamespacedName, info provider.CustomMetricInfo, metricSelector k8slabels.Selector) (*custom_metrics.MetricValue, error) {
	list, err := s.GetMetricBySelector(ctx, name.Namespace, k8slabels.Everything(), info, metricSelector)
	if err != nil {
		return nil, err
	}
	for _, mv := range list.Items {
		if mv.DescribedObject.Name == name.Name {
			return &mv, nil
		}
	}
	return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
}

// GetMetricBySelector scrapes the gauge from every running pod that both
// the HPA's selector and the AutoscalingMetric's select.
func (s *Server) GetMetricBySelector(ctx context.Context, namespace string, selector k8slabels.Selector, info provider.CustomMetricInfo, metricSelector k8slabels.Selector) (*custom_metrics.MetricValueList, error) {
	g, err := s.find(namespace, info)
	if err != nil {
		return nil, err
	}
	list := &custom_metrics.MetricValueList{Items: []custom_metrics.MetricValue{}}
	for _, obj := range s.pods.GetStore().List() {
		p := obj.(*corev1.Pod)
		set := k8slabels.Set(p.Labels)
		if p.Namespace != namespace || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning ||
			!selector.Matches(set) || !g.selector.Matches(set) {
			continue
		}
		v, err := s.scrape(ctx, p, g, metricSelector)
		if err != nil {
			fmt.Fprintf(s.log, "native: %s/%s: %s from pod %s: %v\n", g.namespace, g.object, g.promName, p.Name, err)
			continue
		}
		list.Items = append(list.Items, custom_metrics.MetricValue{
			DescribedObject: custom_metrics.ObjectReference{Kind: "Pod", Namespace: namespace, Name: p.Name, APIVersion: "/v1"},
			Metric:          custom_metrics.MetricIdentifier{Name: info.Metric},
			Timestamp:       metav1.Now(),
			Value:           *resource.NewMilliQuantity(int64(v*1000), resource.DecimalSI),
		})
	}
	if len(list.Items) == 0 {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	return list, nil
}

// scrape reads the pod's endpoint and sums the gauge's series that match
// the metric selector. A family that is not a gauge is an error: GKE
// exposes gauges only.
func (s *Server) scrape(ctx context.Context, p *corev1.Pod, g gauge, metricSelector k8slabels.Selector) (float64, error) {
	addr, err := s.host.PodTarget(p.Namespace, p.Name, g.port)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+g.path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	f, ok := fams[g.promName]
	if !ok {
		return 0, fmt.Errorf("no series %s on port %d path %s", g.promName, g.port, g.path)
	}
	if f.GetType() != dto.MetricType_GAUGE {
		return 0, fmt.Errorf("%s is a %s, and only gauges are exposed", g.promName, strings.ToLower(f.GetType().String()))
	}
	var sum float64
	var n int
	for _, m := range f.GetMetric() {
		ls := k8slabels.Set{}
		for _, lp := range m.GetLabel() {
			ls[lp.GetName()] = lp.GetValue()
		}
		if metricSelector != nil && !metricSelector.Matches(ls) {
			continue
		}
		sum += m.GetGauge().GetValue()
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("no series of %s matches %s", g.promName, metricSelector)
	}
	return sum, nil
}
