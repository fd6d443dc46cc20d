package load

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
)

// Resolved is the in-cluster target of a run.
type Resolved struct {
	// What names it for messages: "service default/vllm-service".
	What string
	// Pods lists its ready pods.
	Pods PodLister
	// Deployment is set when the target is a Deployment.
	Deployment *appsv1.Deployment
}

// Resolve finds the target: "svc/NAME" or "deploy/NAME", a bare NAME (a
// Service, else a Deployment), or, when name is empty, the only vLLM
// Deployment of the namespace (as setup finds it). port overrides the
// Service port or the vLLM port (0: the Service's first port, or vLLM's
// --port).
func Resolve(ctx context.Context, kube kubernetes.Interface, namespace, name string, port int32) (*Resolved, error) {
	kind, n, ok := strings.Cut(name, "/")
	if !ok {
		kind, n = "", name
	}
	switch strings.ToLower(kind) {
	case "", "svc", "service", "services":
		if n != "" {
			svc, err := kube.CoreV1().Services(namespace).Get(ctx, n, metav1.GetOptions{})
			if err == nil {
				pods, err := ServicePods(kube, namespace, svc, port)
				if err != nil {
					return nil, err
				}
				return &Resolved{What: fmt.Sprintf("service %s/%s", namespace, n), Pods: pods}, nil
			}
			if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading service %s/%s: %w", namespace, n, err)
			}
			if kind != "" {
				return nil, fmt.Errorf("service %q not found in namespace %q: check the name and -n/--namespace", n, namespace)
			}
		}
		return resolveDeployment(ctx, kube, namespace, n, port)
	case "deploy", "deployment", "deployments":
		return resolveDeployment(ctx, kube, namespace, n, port)
	}
	return nil, fmt.Errorf("target %q: name a Service or Deployment (NAME, svc/NAME or deploy/NAME), or use --url", name)
}

func resolveDeployment(ctx context.Context, kube kubernetes.Interface, namespace, name string, port int32) (*Resolved, error) {
	d, err := discover.FindDeploymentFor(ctx, kube, namespace, name, "load")
	if err != nil {
		if name != "" && strings.Contains(err.Error(), "not found") {
			return nil, fmt.Errorf("no Service or Deployment %q in namespace %q: check the name and -n/--namespace, or use --url", name, namespace)
		}
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s: its selector: %v: name its Service instead, or use --url", namespace, d.Name, err)
	}
	if port == 0 {
		port = discover.Inspect(d).Port
	}
	return &Resolved{What: fmt.Sprintf("deployment %s/%s", namespace, d.Name), Deployment: d,
		Pods: SelectorPods(kube, namespace, sel, port)}, nil
}
