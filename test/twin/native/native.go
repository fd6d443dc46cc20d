// Package native is the twin's stand-in for GKE's managed metrics adapter
// (the GKE-native path, issue 16): it installs an AutoscalingMetric CRD
// written from GKE's documentation (crd.yaml, ours), scrapes the gauges each
// AutoscalingMetric names from the selected pods' Prometheus endpoint when
// the HPA asks, and serves them through custom.metrics.k8s.io under the
// names GKE documents: autoscaling.gke.io|OBJECT|GAUGE, Pods metrics.
//
// How GKE itself serves them is not documented (nor whether it registers
// the custom.metrics.k8s.io APIService). The stand-in registers
// v1beta1/v1beta2.custom.metrics.k8s.io for a Service in kube-system whose
// endpoint is a kwok pod mapped to this server, so the real aggregator and
// HPA controller reach it the way they reach any metrics adapter.
package native

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	"sigs.k8s.io/yaml"
)

//go:embed crd.yaml
var crdYAML []byte

// GVR of GKE's AutoscalingMetric.
var GVR = schema.GroupVersionResource{Group: "autoscaling.gke.io", Version: "v1beta1", Resource: "autoscalingmetrics"}

// The objects the stand-in adds to kube-system, as GKE adds its managed
// components; Name is the pod, the Service and the label value.
const (
	Namespace = "kube-system"
	Name      = "gke-managed-metrics-adapter"
	port      = 443
	// MaxMetrics is GKE's limit of unique metrics per cluster; the stand-in
	// serves the first MaxMetrics (oldest objects first) and no more.
	MaxMetrics = 20
)

// Host is what the stand-in needs from the twin (twin.Twin provides it).
type Host struct {
	Config *rest.Config
	// Kubeconfig reaches the apiserver as admin (delegated authn/authz).
	Kubeconfig string
	// Dir receives the serving certificate (Dir/native-certs).
	Dir            string
	ForwardPodPort func(ctx context.Context, namespace, pod string, port int32, target string) error
	// PodTarget is the loopback address a pod's port is mapped to.
	PodTarget func(namespace, pod string, port int32) (string, error)
}

// Options shape the stand-in.
type Options struct {
	// Log receives one line per scrape problem and the server library's
	// lines; nil discards them.
	Log io.Writer
}

// Server is the running stand-in.
type Server struct {
	// Addr is the loopback address of its HTTPS server.
	Addr string

	host    Host
	log     io.Writer
	pods    cache.SharedIndexInformer
	objects cache.SharedIndexInformer
	client  kubernetes.Interface
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start installs the CRD, starts the server and registers it.
func Start(ctx context.Context, host Host, opts Options) (*Server, error) {
	s := &Server{host: host, log: opts.Log, done: make(chan struct{})}
	if s.log == nil {
		s.log = io.Discard
	}
	var err error
	if s.client, err = kubernetes.NewForConfig(host.Config); err != nil {
		return nil, err
	}
	if err := installCRD(ctx, host.Config); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(host.Config)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	base := &basecmd.AdapterBase{Name: Name, FlagSet: pflag.NewFlagSet("native", pflag.ContinueOnError)}
	base.Flags().SetOutput(io.Discard)
	if err := base.Flags().Parse([]string{
		"--cert-dir=" + filepath.Join(host.Dir, "native-certs"),
		"--authentication-kubeconfig=" + host.Kubeconfig, "--authorization-kubeconfig=" + host.Kubeconfig,
		"--lister-kubeconfig=" + host.Kubeconfig,
	}); err != nil {
		ln.Close()
		return nil, err
	}
	base.SecureServing.Listener = ln
	base.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	base.WithCustomMetrics(s)
	srv, err := base.Server()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("native: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	f := informers.NewSharedInformerFactory(s.client, 0)
	s.pods = f.Core().V1().Pods().Informer()
	df := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	s.objects = df.ForResource(GVR).Informer()
	f.Start(runCtx.Done())
	df.Start(runCtx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.pods.HasSynced, s.objects.HasSynced) {
		cancel()
		return nil, fmt.Errorf("native: informers did not sync")
	}
	go func() {
		defer close(s.done)
		if err := srv.GenericAPIServer.PrepareRun().RunWithContext(runCtx); err != nil {
			fmt.Fprintln(s.log, "native: server:", err)
		}
	}()
	if err := s.register(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop ends the server.
func (s *Server) Stop() {
	s.cancel()
	<-s.done
}

func installCRD(ctx context.Context, cfg *rest.Config) error {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(crdYAML, crd); err != nil {
		return fmt.Errorf("native: crd.yaml: %w", err)
	}
	ext, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("native: install CRD: %w", err)
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// register creates the kube-system pod, Service and APIServices, maps the
// pod's port to the server and waits for the APIServices to be Available.
func (s *Server) register(ctx context.Context) error {
	labels := map[string]string{"k8s-app": Name}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: labels},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"cloud.google.com/gke-nodepool": "default-pool"},
			Containers: []corev1.Container{{Name: "adapter", Image: "gke.gcr.io/gke-managed-metrics-adapter:twin",
				Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: port}}}},
		},
	}
	if _, err := s.client.CoreV1().Pods(Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("native: create pod: %w", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := s.client.CoreV1().Pods(Namespace).Get(ctx, Name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		return fmt.Errorf("native: pod %s/%s not running: %w", Namespace, Name, err)
	}
	if err := s.host.ForwardPodPort(ctx, Namespace, Name, port, s.Addr); err != nil {
		return fmt.Errorf("native: forward: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "https", Port: port, TargetPort: intstr.FromString("https")}}},
	}
	if _, err := s.client.CoreV1().Services(Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("native: create service: %w", err)
	}
	agg, err := aggregator.NewForConfig(s.host.Config)
	if err != nil {
		return err
	}
	p := int32(port)
	for v, prio := range map[string]int32{"v1beta1": 100, "v1beta2": 200} {
		apisvc := &apiregv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: v + ".custom.metrics.k8s.io", Labels: labels},
			Spec: apiregv1.APIServiceSpec{Group: "custom.metrics.k8s.io", Version: v,
				Service:               &apiregv1.ServiceReference{Namespace: Namespace, Name: Name, Port: &p},
				InsecureSkipTLSVerify: true, GroupPriorityMinimum: 100, VersionPriority: prio},
		}
		if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apisvc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("native: create APIService %s: %w", apisvc.Name, err)
		}
	}
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, "v1beta2.custom.metrics.k8s.io", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiregv1.Available {
				return c.Status == apiregv1.ConditionTrue, nil
			}
		}
		return false, nil
	})
}
