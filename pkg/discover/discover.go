// Package discover reads the cluster to find what setup needs: the vLLM
// Deployment, its pod labels and metrics port, and the GKE project,
// location and cluster. It only reads.
package discover

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DefaultVLLMPort is the port vLLM's OpenAI server listens on without --port.
const DefaultVLLMPort = 8000

// Target is the vLLM Deployment and what was inferred from it.
type Target struct {
	Deployment *appsv1.Deployment
	// PodLabels are the Deployment's spec.selector.matchLabels.
	PodLabels map[string]string
	// Port is the port vLLM serves /metrics on (from --port, else 8000).
	Port int32
	// Container is the container that runs vLLM.
	Container string
}

// FindDeployment is FindDeploymentFor the setup verb.
func FindDeployment(ctx context.Context, c kubernetes.Interface, namespace, name string) (*appsv1.Deployment, error) {
	return FindDeploymentFor(ctx, c, namespace, name, "setup")
}

// FindDeploymentFor returns the named Deployment, or, when name is empty,
// the only Deployment in the namespace that runs vLLM. Errors are one line
// and say what to do, naming verb (setup, load, tune) in the fix.
func FindDeploymentFor(ctx context.Context, c kubernetes.Interface, namespace, name, verb string) (*appsv1.Deployment, error) {
	if name != "" {
		d, err := c.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deployment %q not found in namespace %q: check the name and -n/--namespace", name, namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("reading deployment %s/%s: %w", namespace, name, err)
		}
		return d, nil
	}
	list, err := c.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing deployments in namespace %q: %w", namespace, err)
	}
	var found []*appsv1.Deployment
	for i := range list.Items {
		if IsVLLM(&list.Items[i].Spec.Template.Spec) {
			found = append(found, &list.Items[i])
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no Deployment running vLLM in namespace %q: give its name (%s DEPLOYMENT) or the right -n/--namespace", namespace, verb)
	}
	names := make([]string, len(found))
	for i, d := range found {
		names[i] = d.Name
	}
	sort.Strings(names)
	return nil, fmt.Errorf("%d Deployments run vLLM in namespace %q (%s): name one, e.g. %s %s", len(found), namespace, strings.Join(names, ", "), verb, names[0])
}

// IsVLLM says whether a pod runs vLLM: a container's image, command or
// args mention vllm.
func IsVLLM(spec *corev1.PodSpec) bool {
	return vllmContainer(spec) != nil
}

func vllmContainer(spec *corev1.PodSpec) *corev1.Container {
	for i := range spec.Containers {
		c := &spec.Containers[i]
		words := append([]string{c.Image}, c.Command...)
		words = append(words, c.Args...)
		for _, w := range words {
			if strings.Contains(strings.ToLower(w), "vllm") {
				return c
			}
		}
	}
	return nil
}

// Inspect infers the pod labels and metrics port of a vLLM Deployment. It
// never fails: PodLabels is empty when the Deployment selects its pods
// without matchLabels (matchExpressions only), and the caller asks for
// --pod-label then (see NeedPodLabels).
func Inspect(d *appsv1.Deployment) *Target {
	t := &Target{Deployment: d, Port: DefaultVLLMPort}
	if d.Spec.Selector != nil {
		t.PodLabels = d.Spec.Selector.MatchLabels
	}
	c := vllmContainer(&d.Spec.Template.Spec)
	if c == nil && len(d.Spec.Template.Spec.Containers) > 0 {
		c = &d.Spec.Template.Spec.Containers[0]
	}
	if c != nil {
		t.Container = c.Name
		if p, ok := PortArg(append(append([]string{}, c.Command...), c.Args...)); ok {
			t.Port = p
		}
	}
	return t
}

// NeedPodLabels is the error for a Deployment whose selector has no
// matchLabels: the PodMonitoring needs labels, so the user names them.
func (t *Target) NeedPodLabels() error {
	d := t.Deployment
	return fmt.Errorf("deployment %s/%s selects its pods without matchLabels: give the vLLM pods' labels with --pod-label KEY=VALUE", d.Namespace, d.Name)
}

// SelectsPods says whether labels select the Deployment's pods: every
// pair is on the pod template. A --pod-label that does not would make a
// PodMonitoring that scrapes nothing.
func (t *Target) SelectsPods(labels map[string]string) error {
	tmpl := t.Deployment.Spec.Template.Labels
	for k, v := range labels {
		if got, ok := tmpl[k]; !ok || got != v {
			return fmt.Errorf("--pod-label %s=%s does not select the pods of deployment %s/%s (their labels: %s): give labels from its pod template", k, v, t.Deployment.Namespace, t.Deployment.Name, FormatLabels(tmpl))
		}
	}
	return nil
}

// FormatLabels prints labels sorted, as k=v,k=v.
func FormatLabels(m map[string]string) string {
	var s []string
	for k, v := range m {
		s = append(s, k+"="+v)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// PortArg finds vLLM's --port N or --port=N in a command line. Shell
// command lines (sh -c "vllm serve ... --port 8081") are split on spaces.
func PortArg(argv []string) (int32, bool) {
	var words []string
	for _, a := range argv {
		words = append(words, strings.Fields(a)...)
	}
	var port int32
	var found bool
	for i, w := range words {
		var v string
		switch {
		case w == "--port" && i+1 < len(words):
			v = words[i+1]
		case strings.HasPrefix(w, "--port="):
			v = strings.TrimPrefix(w, "--port=")
		default:
			continue
		}
		if n, err := strconv.ParseInt(strings.Trim(v, `"'`), 10, 32); err == nil && n > 0 && n < 65536 {
			port, found = int32(n), true // the last one wins, as in argparse
		}
	}
	return port, found
}

// DeclaredPort says whether a container of the pod declares the port, given
// as a number or a port name, and returns its number.
func DeclaredPort(spec *corev1.PodSpec, port string) (int32, bool) {
	n, numErr := strconv.Atoi(port)
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if numErr == nil && int(p.ContainerPort) == n || numErr != nil && p.Name == port {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}
