package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
)

// state is what every check shares: the resolved target, read once, and
// memoized reads that several checks need.
type state struct {
	env Env
	in  Input

	hpaName, deployName string
	hpa                 *autoscalingv2.HorizontalPodAutoscaler
	deploy              *appsv1.Deployment
	deployErr           error
	pods                []corev1.Pod
	podsErr             error
	selector            string
	// parent is setup's inventory annotations (nil: no inventory).
	parent  map[string]string
	metrics []hpaMetric
	// native: the HPA reads GKE's AutoscalingMetric gauges (nativeObjs,
	// by name), not the adapter's.
	native     bool
	nativeObjs map[string]*nativeObject

	access   keyed[bool]
	scrapes  keyed[string]
	series   keyed[[]gcp.Series]
	custom   keyed[map[string]float64]
	project  once[projectInfo]
	adapters once[[]corev1.Pod]
	scr      once[scrapersRead]
	apisUp   once[bool]
	apiSvcs  keyed[Check]
}

type projectInfo struct {
	ID, From string
	// Cluster is the nodes' project, when they tell.
	Cluster string
}

// hpaMetric is a Pods metric of the HPA.
type hpaMetric struct {
	// Name is the adapter's name ("prometheus.googleapis.com|vllm:num_requests_running|gauge").
	Name string
	// Prom is the Prometheus name for Managed Prometheus metrics, else "".
	Prom string
	// Type is the Cloud Monitoring metric type.
	Type string
	// Target is the HPA's averageValue.
	Target float64
}

func parseMetric(name string) hpaMetric {
	m := hpaMetric{Name: name, Type: strings.ReplaceAll(name, "|", "/")}
	parts := strings.Split(name, "|")
	if len(parts) == 3 && parts[0] == "prometheus.googleapis.com" {
		m.Prom = parts[1]
	}
	return m
}

// vllm says whether the metric is one vLLM serves itself on /metrics
// (recording-rule outputs such as infer_hpa:… are not).
func (m hpaMetric) vllm() bool { return strings.HasPrefix(m.Prom, "vllm:") }

func newState(ctx context.Context, env Env, in Input) (*state, error) {
	s := &state{env: env, in: in}
	if err := s.resolve(ctx); err != nil {
		return nil, err
	}
	if s.hpa != nil {
		for _, m := range s.hpa.Spec.Metrics {
			if m.Type != autoscalingv2.PodsMetricSourceType || m.Pods == nil {
				continue
			}
			hm := parseMetric(m.Pods.Metric.Name)
			if v := m.Pods.Target.AverageValue; v != nil {
				hm.Target = v.AsApproximateFloat64()
			}
			s.metrics = append(s.metrics, hm)
			s.native = s.native || IsNativeMetric(hm.Name)
		}
	}
	if s.native {
		s.readNative(ctx)
	}
	if s.deployName != "" {
		d, err := env.Kube.AppsV1().Deployments(in.Namespace).Get(ctx, s.deployName, metav1.GetOptions{})
		if err != nil {
			s.deployErr = err
		} else {
			s.deploy = d
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil {
				s.podsErr = err
			} else {
				s.selector = sel.String()
				list, err := env.Kube.CoreV1().Pods(in.Namespace).List(ctx, metav1.ListOptions{LabelSelector: s.selector})
				if err != nil {
					s.podsErr = err
				} else {
					s.pods = list.Items
					sort.Slice(s.pods, func(i, j int) bool { return s.pods[i].Name < s.pods[j].Name })
				}
			}
		}
	}
	if s.hpaName != "" {
		cm, err := env.Kube.CoreV1().ConfigMaps(in.Namespace).Get(ctx, apply.ForHPA(in.Namespace, s.hpaName).Name, metav1.GetOptions{})
		if err == nil && cm.Annotations[apply.AnnotationTooling] == apply.Tooling {
			s.parent = cm.Annotations
		}
	}
	return s, nil
}

// resolve finds the HPA and its Deployment from the name given.
func (s *state) resolve(ctx context.Context) error {
	ns, name := s.in.Namespace, s.in.Name
	hpas := s.env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns)
	if name != "" {
		h, err := hpas.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			s.useHPA(h)
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("reading HPA %s/%s: %w", ns, name, err)
		}
	}
	list, err := hpas.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing HPAs in namespace %q: %w", ns, err)
	}
	var names, ours []string
	for i := range list.Items {
		h := &list.Items[i]
		names = append(names, h.Name)
		if name != "" && h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == name {
			s.useHPA(h)
			return nil
		}
		if h.Labels[apply.LabelManagedBy] == apply.ManagedBy {
			ours = append(ours, h.Name)
		}
	}
	sort.Strings(names)
	if name == "" {
		pick := ""
		switch {
		case len(ours) == 1:
			pick = ours[0]
		case len(list.Items) == 1:
			pick = list.Items[0].Name
		case len(list.Items) == 0:
			return fmt.Errorf("no HPA in namespace %q: name the Deployment (doctor DEPLOYMENT -n NS) or run `kubectl infer-hpa setup` first", ns)
		default:
			return fmt.Errorf("%d HPAs in namespace %q (%s): name one, e.g. doctor %s", len(names), ns, joinMax(names, 5), names[0])
		}
		for i := range list.Items {
			if list.Items[i].Name == pick {
				s.useHPA(&list.Items[i])
			}
		}
		return nil
	}
	// No HPA: the Deployment alone (the HPA check says it is missing).
	if _, err := s.env.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		s.deployName = name
		return nil
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Deployment %s/%s: %w", ns, name, err)
	}
	if len(names) == 0 {
		return fmt.Errorf("no HPA or Deployment named %q in namespace %q: check the name and -n", name, ns)
	}
	return fmt.Errorf("no HPA or Deployment named %q in namespace %q; HPAs there: %s", name, ns, joinMax(names, 5))
}

func (s *state) useHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	s.hpa, s.hpaName = h, h.Name
	if h.Spec.ScaleTargetRef.Kind == "Deployment" {
		s.deployName = h.Spec.ScaleTargetRef.Name
	}
}

// readyPods are the Deployment's Ready, non-terminating pods.
func (s *state) readyPods() []corev1.Pod {
	var out []corev1.Pod
	for _, p := range s.pods {
		if p.DeletionTimestamp == nil && podReady(&p) {
			out = append(out, p)
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podNames(pods []corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}

// podLabels are the labels the Deployment's pods carry.
func (s *state) podLabels() labels.Set {
	if s.deploy == nil {
		return nil
	}
	return labels.Set(s.deploy.Spec.Template.Labels)
}

// wiMode is the Workload Identity mode setup recorded ("" without an inventory).
func (s *state) wiMode() string { return s.parent[plan.AnnotationWIMode] }

// projectInfo resolves the Google project: --project, else what setup
// recorded, else the nodes' provider IDs.
func (s *state) projectOf(ctx context.Context) projectInfo {
	p, _ := s.project.get(func() (projectInfo, error) {
		var p projectInfo
		nodes, err := s.env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 20})
		if err == nil {
			for _, n := range nodes.Items {
				if id, _, ok := discover.FromProviderID(n.Spec.ProviderID); ok && identity.ValidateProjectID(id) == nil {
					p.Cluster = id
					break
				}
			}
		}
		switch {
		case s.in.Project != "":
			p.ID, p.From = s.in.Project, "--project"
		case s.parent[plan.AnnotationProject] != "":
			p.ID, p.From = s.parent[plan.AnnotationProject], "setup's inventory"
		case p.Cluster != "":
			p.ID, p.From = p.Cluster, "the nodes' provider IDs"
		}
		return p, nil
	})
	return p
}

// once memoizes one read.
type once[T any] struct {
	o   sync.Once
	v   T
	err error
}

func (m *once[T]) get(f func() (T, error)) (T, error) {
	m.o.Do(func() { m.v, m.err = f() })
	return m.v, m.err
}

// keyed memoizes reads by key.
type keyed[T any] struct {
	mu sync.Mutex
	m  map[string]*once[T]
}

func (k *keyed[T]) get(key string, f func() (T, error)) (T, error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*once[T]{}
	}
	o := k.m[key]
	if o == nil {
		o = &once[T]{}
		k.m[key] = o
	}
	k.mu.Unlock()
	return o.get(f)
}
