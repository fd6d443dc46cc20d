package twin

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

const (
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	kwokNodeValue      = "fake"
	kwokGroup          = "kwok.x-k8s.io"
)

// gkeNamespaces exist on every GKE cluster with Managed Prometheus.
var gkeNamespaces = []string{"gke-managed-system", "gmp-system", "gmp-public"}

// install adds what GKE would have: CRDs, namespaces, service accounts, nodes.
func (t *Twin) install(ctx context.Context) error {
	crds, err := t.crds()
	if err != nil {
		return err
	}
	ext, err := apiextensions.NewForConfig(t.Config)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("install CRD %s: %w", crd.Name, err)
		}
	}
	for _, ns := range gkeNamespaces {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if _, err := t.Client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "horizontal-pod-autoscaler", Namespace: "kube-system"}}
	if _, err := t.Client.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account kube-system/horizontal-pod-autoscaler: %w", err)
	}
	for _, n := range gkeNodes(&t.Options) {
		if _, err := t.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	return waitFor("CRDs established", 30*time.Second, t.procs, func() error {
		for _, crd := range crds {
			got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(got.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
				return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
			}) {
				return fmt.Errorf("CRD %s not established yet", crd.Name)
			}
		}
		return nil
	})
}

// crds reads every CRD in CRDDir and adds kwok's own kinds.
func (t *Twin) crds() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := filepath.Glob(filepath.Join(t.Options.CRDDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("twin: no CRD manifests in %s", t.Options.CRDDir)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(b, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		out = append(out, crd)
	}
	for _, kind := range kwokCRDKinds {
		out = append(out, kwokCRD(kind))
	}
	return out, nil
}

// kwokCRD is a schema-less CRD for one of kwok's kinds, enough for kwok to
// list and watch the objects tests create.
func kwokCRD(kind string) *apiextensionsv1.CustomResourceDefinition {
	lower := strings.ToLower(kind)
	plural := lower + "s"
	if strings.HasSuffix(lower, "s") {
		plural = lower
	}
	scope := apiextensionsv1.NamespaceScoped
	if strings.HasPrefix(kind, "Cluster") {
		scope = apiextensionsv1.ClusterScoped
	}
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + kwokGroup},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: kwokGroup,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: lower},
			Scope: scope,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1alpha1", Served: true, Storage: true,
				Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
}

// gkeNodes are kwok nodes labelled, tainted and sized like GKE's.
func gkeNodes(o *Options) []*corev1.Node {
	var nodes []*corev1.Node
	add := func(pool, machine string, i int, gpus int) {
		h := fnv.New32a()
		h.Write([]byte(o.Cluster + "/" + pool))
		name := fmt.Sprintf("gke-%s-%s-%08x-%c%c%c%c", o.Cluster, pool, h.Sum32(), 'a'+i/26/26/26%26, 'a'+i/26/26%26, 'a'+i/26%26, 'a'+i%26)
		n := len(nodes)
		labels := map[string]string{
			"cloud.google.com/gke-nodepool":          pool,
			"cloud.google.com/gke-os-distribution":   "cos",
			"cloud.google.com/machine-family":        strings.SplitN(machine, "-", 2)[0],
			"node.kubernetes.io/instance-type":       machine,
			"topology.kubernetes.io/region":          o.Location,
			"topology.kubernetes.io/zone":            o.Zone,
			"kubernetes.io/hostname":                 name,
			"kubernetes.io/os":                       "linux",
			"kubernetes.io/arch":                     "amd64",
			"iam.gke.io/gke-metadata-server-enabled": "true",
			"type":                                   "kwok",
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("8"),
			corev1.ResourceMemory:           resource.MustParse("32Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		}
		var taints []corev1.Taint
		if gpus > 0 {
			labels["cloud.google.com/gke-accelerator"] = o.GPUType
			labels["cloud.google.com/gke-gpu"] = "true"
			labels["cloud.google.com/gke-gpu-driver-version"] = "latest"
			capacity["nvidia.com/gpu"] = *resource.NewQuantity(int64(gpus), resource.DecimalSI)
			taints = append(taints, corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule})
		}
		nodes = append(nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{kwokNodeAnnotation: kwokNodeValue}},
			Spec: corev1.NodeSpec{
				ProviderID: fmt.Sprintf("gce://%s/%s/%s", o.Project, o.Zone, name),
				PodCIDR:    fmt.Sprintf("10.4.%d.0/24", n),
				PodCIDRs:   []string{fmt.Sprintf("10.4.%d.0/24", n)},
				Taints:     taints,
			},
			Status: corev1.NodeStatus{
				Capacity: capacity, Allocatable: capacity,
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.128.0.%d", 10+n)},
					{Type: corev1.NodeHostName, Address: name},
				},
			},
		})
	}
	for i := range o.CPUNodes {
		add(o.CPUPool, "e2-standard-8", i, 0)
	}
	for i := range o.GPUNodes {
		add(o.GPUPool, "g2-standard-8", i, o.GPUsPerNode)
	}
	return nodes
}

// waitReady waits for Ready, untainted nodes and the default service account.
func (t *Twin) waitReady(ctx context.Context) error {
	want := t.Options.CPUNodes + t.Options.GPUNodes
	return waitFor("nodes Ready", 60*time.Second, t.procs, func() error {
		nodes, err := t.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			ok := slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
				return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
			})
			notReadyTaint := slices.ContainsFunc(n.Spec.Taints, func(tn corev1.Taint) bool {
				return tn.Key == corev1.TaintNodeNotReady || tn.Key == corev1.TaintNodeUnreachable
			})
			if ok && !notReadyTaint {
				ready++
			}
		}
		if ready < want {
			return fmt.Errorf("%d of %d nodes ready", ready, want)
		}
		_, err = t.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}
