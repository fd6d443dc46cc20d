package watch

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	cmv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
)

// MetricsSource reads per-pod values of a Pods metric. The custom metrics API
// cannot be watched, so the watcher polls it.
type MetricsSource interface {
	PodValues(ctx context.Context, namespace, metric, podSelector string) (map[string]float64, error)
}

// CustomMetricsREST reads custom.metrics.k8s.io/v1beta2 through a REST client
// whose base is the apiserver root (for example a clientset's Discovery().RESTClient()).
type CustomMetricsREST struct {
	Client rest.Interface
}

// PodValues GETs /apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/pods/*/METRIC?labelSelector=SEL.
func (c CustomMetricsREST) PodValues(ctx context.Context, namespace, metric, podSelector string) (map[string]float64, error) {
	raw, err := c.Client.Get().
		AbsPath("/apis", cmv1beta2.SchemeGroupVersion.Group, cmv1beta2.SchemeGroupVersion.Version,
			"namespaces", namespace, "pods", cmv1beta2.AllObjects, metric).
		Param("labelSelector", podSelector).
		DoRaw(ctx)
	if err != nil {
		return nil, describeMetricsError(err, namespace, metric)
	}
	var list cmv1beta2.MetricValueList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decoding custom metrics response for %s: %w", metric, err)
	}
	out := make(map[string]float64, len(list.Items))
	for _, it := range list.Items {
		out[it.DescribedObject.Name] = it.Value.AsApproximateFloat64()
	}
	return out, nil
}

func describeMetricsError(err error, namespace, metric string) error {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("forbidden: no RBAC to get custom.metrics.k8s.io pods/%s in %s", metric, namespace)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("404: metric %s not found by the custom metrics API (adapter down or metric not exported yet)", metric)
	case apierrors.IsServiceUnavailable(err):
		return fmt.Errorf("503: custom metrics API unavailable (is the adapter's APIService available?)")
	}
	return fmt.Errorf("custom metrics API: %w", err)
}
