package adapter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"k8s.io/metrics/pkg/apis/external_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// permissionDenied is what Cloud Monitoring answers an identity without
// monitoring.timeSeries.list, as the adapter passes it on.
const permissionDenied = "googleapi: Error 403: Permission monitoring.timeSeries.list denied (or the resource may not exist)., forbidden"

var podsResource = corev1.Resource("pods")

// authorize asks the local Google API server whether the adapter pod's
// identity may read time series; a denial is the 403 the real adapter gets.
func (a *Adapter) authorize(ctx context.Context) error {
	pod, ok := a.readyPod()
	if !ok {
		return apierrors.NewServiceUnavailable("no ready adapter pod")
	}
	ksa := pod.Spec.ServiceAccountName
	if ksa == "" {
		ksa = "default"
	}
	gsa := ""
	if sa, err := a.client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, ksa, metav1.GetOptions{}); err == nil {
		gsa = sa.Annotations["iam.gke.io/gcp-service-account"]
	}
	via, err := a.opts.Identity.IdentityHasRole(ctx, a.opts.Project, pod.Namespace, ksa, gsa, "roles/monitoring.viewer")
	if err != nil {
		a.logf('E', "http_client.go:88", "Failed to get credentials: %v", err)
		return apierrors.NewInternalError(err)
	}
	if via == "" {
		a.logf('E', "provider.go:226", "Failed request to stackdriver api: %s", permissionDenied)
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden,
			Reason: metav1.StatusReasonForbidden, Message: permissionDenied}}
	}
	return nil
}

// GetMetricByName serves one pod's metric.
func (a *Adapter) GetMetricByName(ctx context.Context, name types.NamespacedName, info provider.CustomMetricInfo, metricSelector k8slabels.Selector) (*custom_metrics.MetricValue, error) {
	list, err := a.podMetrics(ctx, name.Namespace, []string{name.Name}, info, metricSelector)
	if err != nil {
		return nil, err
	}
	return &list.Items[0], nil
}

// GetMetricBySelector serves the metric of the pods the selector matches.
func (a *Adapter) GetMetricBySelector(ctx context.Context, namespace string, selector k8slabels.Selector, info provider.CustomMetricInfo, metricSelector k8slabels.Selector) (*custom_metrics.MetricValueList, error) {
	if info.GroupResource != podsResource {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	var names []string
	for _, obj := range a.pods.GetStore().List() {
		p := obj.(*corev1.Pod)
		if p.Namespace == namespace && selector.Matches(k8slabels.Set(p.Labels)) {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return &custom_metrics.MetricValueList{Items: []custom_metrics.MetricValue{}}, nil
	}
	return a.podMetrics(ctx, namespace, names, info, metricSelector)
}

func (a *Adapter) podMetrics(ctx context.Context, namespace string, pods []string, info provider.CustomMetricInfo, metricSelector k8slabels.Selector) (*custom_metrics.MetricValueList, error) {
	if info.GroupResource != podsResource {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	mt, err := parseMetricName(info.Metric)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	f := a.newFilter(mt, namespace)
	f.oneOf("metric.labels.pod", "pod", pods)
	series, now, err := a.read(ctx, mt, f, metricSelector)
	if err != nil {
		return nil, err
	}
	byPod := map[string]*custom_metrics.MetricValue{}
	for _, sr := range series {
		v, ts, ok := a.value(sr, now)
		pod := sr.Labels.Get("pod")
		if !ok {
			continue
		}
		if mv := byPod[pod]; mv != nil { // several series of one pod: summed
			v += mv.Value.AsApproximateFloat64()
		}
		byPod[pod] = &custom_metrics.MetricValue{
			DescribedObject: custom_metrics.ObjectReference{Kind: "Pod", Namespace: namespace, Name: pod, APIVersion: "/v1"},
			Metric:          custom_metrics.MetricIdentifier{Name: info.Metric},
			Timestamp:       metav1.NewTime(ts),
			Value:           *resource.NewMilliQuantity(int64(v*1000), resource.DecimalSI),
		}
	}
	if len(byPod) == 0 {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	list := &custom_metrics.MetricValueList{}
	for _, p := range pods {
		if mv := byPod[p]; mv != nil {
			list.Items = append(list.Items, *mv)
		}
	}
	return list, nil
}

// read narrows f by the metric selector, logs the query as the real
// adapter does, checks the identity and reads the store.
func (a *Adapter) read(ctx context.Context, mt metricType, f *filter, sel k8slabels.Selector) ([]gmp.Series, time.Time, error) {
	if err := addSelector(f, sel); err != nil {
		return nil, time.Time{}, err
	}
	a.logf('I', "filter_builder.go:258", "Query with filter(s): %q", f.String())
	if err := a.authorize(ctx); err != nil {
		return nil, time.Time{}, err
	}
	now := time.Now()
	return a.query(mt, f, now), now, nil
}

// addSelector narrows the filter by the HPA's metric selector:
// metric.labels.K / resource.labels.K keys with equality, as the real
// adapter accepts them.
func addSelector(f *filter, sel k8slabels.Selector) error {
	if sel == nil {
		return nil
	}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		key := r.Key()
		label, ok := strings.CutPrefix(key, "metric.labels.")
		if !ok {
			label, ok = strings.CutPrefix(key, "resource.labels.")
		}
		if !ok || (r.Operator() != selection.Equals && r.Operator() != selection.DoubleEquals) || r.Values().Len() != 1 {
			return apierrors.NewBadRequest(fmt.Sprintf("Label selector with key %s and operator %s is not supported", key, r.Operator()))
		}
		f.eq(key, label, r.Values().List()[0])
	}
	return nil
}

// ListAllMetrics is empty: like the real adapter in the new resource model,
// any Cloud Monitoring type may be asked for, none is advertised.
func (a *Adapter) ListAllMetrics() []provider.CustomMetricInfo { return nil }

// GetExternalMetric serves one value per matching time series.
func (a *Adapter) GetExternalMetric(ctx context.Context, namespace string, metricSelector k8slabels.Selector, info provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	mt, err := parseMetricName(info.Metric)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	series, now, err := a.read(ctx, mt, a.newFilter(mt, ""), metricSelector)
	if err != nil {
		return nil, err
	}
	list := &external_metrics.ExternalMetricValueList{}
	for _, sr := range series {
		v, ts, ok := a.value(sr, now)
		if !ok {
			continue
		}
		list.Items = append(list.Items, external_metrics.ExternalMetricValue{
			MetricName: info.Metric, MetricLabels: sr.Labels.Map(), Timestamp: metav1.NewTime(ts),
			Value: *resource.NewMilliQuantity(int64(v*1000), resource.DecimalSI),
		})
	}
	if len(list.Items) == 0 {
		return nil, provider.NewMetricNotFoundError(external_metrics.Resource("externalmetrics"), info.Metric)
	}
	return list, nil
}

// ListAllExternalMetrics is empty, as for custom metrics.
func (a *Adapter) ListAllExternalMetrics() []provider.ExternalMetricInfo { return nil }
