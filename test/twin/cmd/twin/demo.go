package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/tutorial"
)

const demoNamespace = "default"

// applyDemo creates the tutorial's Secret, Deployment (1 replica) and
// Service, as a user following it would have.
func applyDemo(ctx context.Context, t *twin.Twin) error {
	c := t.Client
	create := func(kind string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("demo: create %s: %w", kind, err)
		}
		return nil
	}
	_, err := c.CoreV1().Secrets(demoNamespace).Create(ctx, tutorial.Secret(demoNamespace), metav1.CreateOptions{})
	if err := create("Secret "+tutorial.SecretName, err); err != nil {
		return err
	}
	_, err = c.AppsV1().Deployments(demoNamespace).Create(ctx, tutorial.Deployment(demoNamespace, 1), metav1.CreateOptions{})
	if err := create("Deployment "+tutorial.DeploymentName, err); err != nil {
		return err
	}
	_, err = c.CoreV1().Services(demoNamespace).Create(ctx, tutorial.Service(demoNamespace), metav1.CreateOptions{})
	return create("Service "+tutorial.ServiceName, err)
}

func printDemo(out io.Writer, s *state, stateDir string) {
	fmt.Fprintf(out, `twin %s is up (pid %d) with the demo:
  - deployment/%s (1 replica, app=%s, vLLM on :%d, one nvidia.com/gpu) and service/%s in namespace %s;
    every vLLM pod runs a simulated vLLM server and turns Ready once its model has loaded (--model-load-delay, 30s by default)
  - a simulated DCGM exporter pod per GPU node in gke-managed-system
  - a local Google API server (IAM, Cloud Resource Manager) for project %s

kubeconfig: %s
env file:   %s (KUBECONFIG and the endpoint overrides for gcloud and the plugin)

Next:
  source %s
  kubectl get pods -l app=%s -w                       # Ready once the model has loaded
  kubectl logs deploy/%s                         # vLLM's start-up lines
  kubectl port-forward svc/%s %d:%d &
  curl -s localhost:%d/v1/models; curl -s localhost:%d/metrics | grep '^vllm:'
  gcloud iam service-accounts list                          # answered by the local Google API server
  # then the tutorial's steps (PodMonitoring, the adapter, Workload Identity, the HPA)
  # or: kubectl infer-hpa setup --help
  twin load --service %s --concurrency 8 --duration 5m   # drive load through the Service
  kubectl get hpa -w

Stop it with: twin down --state-dir %s
`, s.Context, s.PID, tutorial.DeploymentName, tutorial.AppLabel, tutorial.Port, tutorial.ServiceName, demoNamespace,
		googleProject(s), s.Kubeconfig, s.EnvFile, s.EnvFile, tutorial.AppLabel, tutorial.DeploymentName,
		tutorial.ServiceName, tutorial.Port, tutorial.Port, tutorial.Port, tutorial.Port, tutorial.ServiceName, stateDir)
}

func googleProject(s *state) string {
	for _, kv := range s.GoogleEnv {
		if v, ok := strings.CutPrefix(kv, "CLOUDSDK_CORE_PROJECT="); ok {
			return v
		}
	}
	return ""
}
