package watch

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Target names what to watch: an HPA, its scale target Deployment and the
// label selector of the Deployment's pods.
type Target struct {
	Namespace   string
	HPA         string
	Deployment  string
	PodSelector string
	// Native says the HPA reads GKE's AutoscalingMetric gauges (the native
	// path): there is no adapter of ours to watch.
	Native bool
}

// Resolve finds the HPA named name, or else the HPA whose scale target is
// the Deployment named name, and reads the Deployment's pod selector. When
// nothing matches, the error lists the HPAs that exist in the namespace.
func Resolve(ctx context.Context, c kubernetes.Interface, namespace, name string) (Target, error) {
	t := Target{Namespace: namespace}
	hpa, err := c.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		t.HPA, t.Deployment, t.Native = hpa.Name, hpa.Spec.ScaleTargetRef.Name, nativeHPA(hpa)
		if k := hpa.Spec.ScaleTargetRef.Kind; k != "Deployment" {
			return t, fmt.Errorf("HPA %s/%s scales a %s; watch supports Deployments", namespace, name, k)
		}
	case apierrors.IsNotFound(err):
		list, lerr := c.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(ctx, metav1.ListOptions{})
		if lerr != nil {
			return t, fmt.Errorf("HPA %q not found in namespace %q, and listing HPAs failed: %w", name, namespace, lerr)
		}
		var names []string
		for _, h := range list.Items {
			if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == name {
				t.HPA, t.Deployment, t.Native = h.Name, name, nativeHPA(&h)
			}
			names = append(names, h.Name)
		}
		if t.HPA == "" {
			sort.Strings(names)
			if len(names) == 0 {
				return t, fmt.Errorf("no HPA or Deployment-with-HPA named %q in namespace %q, and the namespace has no HPAs: run `kubectl infer-hpa setup` first or pass -n", name, namespace)
			}
			return t, fmt.Errorf("no HPA or Deployment-with-HPA named %q in namespace %q; HPAs there: %s", name, namespace, strings.Join(names, ", "))
		}
	default:
		return t, fmt.Errorf("getting HPA %s/%s: %w", namespace, name, err)
	}
	d, err := c.AppsV1().Deployments(namespace).Get(ctx, t.Deployment, metav1.GetOptions{})
	if err != nil {
		return t, fmt.Errorf("getting Deployment %s/%s (the HPA's scale target): %w", namespace, t.Deployment, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return t, fmt.Errorf("Deployment %s/%s has an invalid selector: %w", namespace, d.Name, err)
	}
	t.PodSelector = sel.String()
	return t, nil
}
