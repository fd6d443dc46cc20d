package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// noWrites fails when a run that must stop before writing wrote.
func noWrites(t *testing.T, r result) {
	t.Helper()
	if w := r.reqs.writes(); len(w) != 0 {
		t.Errorf("sent %d writes, want none: %v", len(w), w)
	}
}

// oneLineError: exit 1 and stderr is exactly one "error: ..." line.
func oneLineError(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "error: ") {
		t.Errorf("last stderr line is not an error: %q", last)
	}
	mustContain(t, "error", last, want...)
}

func TestForeignAPIServiceOwnerBlocks(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-foreign")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	ctx := context.Background()
	port := int32(443)
	foreign := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1beta1.custom.metrics.k8s.io"},
		"spec": map[string]any{"group": "custom.metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
			"service": map[string]any{"namespace": "monitoring", "name": "prometheus-adapter", "port": int64(port)}},
	}}
	if _, err := cluster.dyn.Resource(apiServiceGVR).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.dyn.Resource(apiServiceGVR).Delete(context.Background(), "v1beta1.custom.metrics.k8s.io", metav1.DeleteOptions{})
	})
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam")
	oneLineError(t, r, "preflight failed", "APIService v1beta1.custom.metrics.k8s.io")
	mustContain(t, "stderr", r.stderr, "[FAIL] APIService v1beta1.custom.metrics.k8s.io: already served by monitoring/prometheus-adapter",
		"--force-conflicts")
	noWrites(t, r)
}

// restrictedKubeconfig is a kubeconfig for a service account that may do
// everything setup needs except touch APIServices.
func restrictedKubeconfig(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	const name = "e2e-no-apiservices"
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if _, err := cluster.kube.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"", "apps", "autoscaling", "rbac.authorization.k8s.io", "monitoring.googleapis.com"},
			Resources: []string{"*"}, Verbs: []string{"*"},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: "default"}},
	}
	if _, err := cluster.kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = cluster.kube.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = cluster.kube.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
		_ = cluster.kube.CoreV1().ServiceAccounts("default").Delete(ctx, name, metav1.DeleteOptions{})
	})
	tok, err := cluster.kube.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(cluster.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kctx := admin.Contexts[admin.CurrentContext]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["twin"] = admin.Clusters[kctx.Cluster]
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts[admin.CurrentContext] = &clientcmdapi.Context{Cluster: "twin", AuthInfo: name}
	cfg.CurrentContext = admin.CurrentContext
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNoRBACForAPIServicesGetsTheList(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-rbac")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	kc := restrictedKubeconfig(t)
	r := plugin(t, kc, "setup", "-n", ns, "--skip-iam")
	oneLineError(t, r, "preflight failed", "permissions")
	mustContain(t, "stderr", r.stderr, "[FAIL] permissions: missing: create apiservices.apiregistration.k8s.io (cluster-wide); get apiservices.apiregistration.k8s.io (cluster-wide); patch apiservices.apiregistration.k8s.io (cluster-wide)")
	noWrites(t, r)
}

func TestAdmissionDenialIsReported(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-admission")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	ctx := context.Background()
	const msg = "HPAs are frozen in this namespace"
	fail := admissionv1.Deny
	vap := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-deny-hpa"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"autoscaling"}, APIVersions: []string{"*"}, Resources: []string{"horizontalpodautoscalers"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: msg}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-deny-hpa"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        "e2e-deny-hpa",
			ValidationActions: []admissionv1.ValidationAction{fail},
			MatchResources:    &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		},
	}
	adm := cluster.kube.AdmissionregistrationV1()
	if _, err := adm.ValidatingAdmissionPolicies().Create(ctx, vap, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adm.ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = adm.ValidatingAdmissionPolicies().Delete(context.Background(), vap.Name, metav1.DeleteOptions{})
	})
	// The policy takes effect once the apiserver has loaded it.
	eventually(t, 30*time.Second, "the policy denies HPAs", func(ctx context.Context) string {
		hpa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
			"metadata": map[string]any{"name": "probe"},
			"spec":     map[string]any{"maxReplicas": int64(2), "scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"}}}}
		_, err := cluster.dyn.Resource(hpaGVR).Namespace(ns).Create(ctx, hpa, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), msg) {
			return ""
		}
		return "not denied yet"
	})
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--timeout", "90s")
	if r.code == 0 {
		t.Fatalf("setup succeeded despite the policy: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "setup stopped: horizontalpodautoscaler.autoscaling/vllm:", msg, "done before the failure:")
	if strings.Contains(r.stdout, "horizontalpodautoscaler") || strings.Contains(r.stdout, "setup complete") {
		t.Errorf("the HPA or completion was claimed:\n%s", r.stdout)
	}
	mustContain(t, "stdout", r.stdout, "podmonitoring.monitoring.googleapis.com/vllm-vllm created")
	c := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns)
	if c.code != 0 {
		t.Fatalf("cleanup after a failed setup: %s", c)
	}
	mustNotExist(t, podMonGVR, ns, "vllm-vllm")
	mustNotExist(t, apiServiceGVR, "", "v1beta1.custom.metrics.k8s.io")
}

func ptr[T any](v T) *T { return &v }

func TestBadInput(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-bad")
	t.Run("missing deployment", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, "setup", "nope", "-n", ns)
		oneLineError(t, r, `deployment "nope" not found in namespace "e2e-bad"`)
		noWrites(t, r)
	})
	t.Run("no vLLM deployment", func(t *testing.T) {
		r := plugin(t, cluster.kubeconfig, "setup", "-n", ns)
		oneLineError(t, r, `no Deployment running vLLM in namespace "e2e-bad"`)
		noWrites(t, r)
	})
	t.Run("deployment without the metrics port", func(t *testing.T) {
		vllmDeployment(t, ns, "undeclared", "undeclared", 8000, false)
		// vLLM serves on 8000 (declared nowhere, which Managed Prometheus
		// accepts for a number); 9000 is neither declared nor vLLM's port.
		r := plugin(t, cluster.kubeconfig, "setup", "undeclared", "-n", ns, "--skip-iam", "--metrics-port", "9000")
		oneLineError(t, r, "preflight failed", "metrics port")
		mustContain(t, "stderr", r.stderr, "[FAIL] metrics port: deployment undeclared neither declares container port 9000 nor runs vLLM with --port 9000")
		noWrites(t, r)
	})
	t.Run("two vLLM deployments and no name", func(t *testing.T) {
		vllmDeployment(t, ns, "second", "second", 8000, true)
		r := plugin(t, cluster.kubeconfig, "setup", "-n", ns)
		oneLineError(t, r, `2 Deployments run vLLM in namespace "e2e-bad" (second, undeclared): name one`)
		noWrites(t, r)
	})
	t.Run("unreachable cluster", func(t *testing.T) {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["gone"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
		cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
		cfg.Contexts["gone"] = &clientcmdapi.Context{Cluster: "gone", AuthInfo: "u"}
		cfg.CurrentContext = "gone"
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"setup", "cleanup", "diff"} {
			r := plugin(t, path, verb, "-n", ns)
			want := 1
			if verb == "diff" {
				want = 2
			}
			if r.code != want {
				t.Errorf("%s: exit %d, want %d", verb, r.code, want)
			}
			mustContain(t, verb+" stderr", r.stderr, "cannot reach the cluster at https://127.0.0.1:1")
			if n := strings.Count(r.stderr, "\n"); n != 1 {
				t.Errorf("%s: %d stderr lines, want 1", verb, n)
			}
		}
	})
	t.Run("no Managed Prometheus CRDs", func(t *testing.T) {
		withoutCRD(t, "podmonitorings.monitoring.googleapis.com")
		r := plugin(t, cluster.kubeconfig, "setup", "second", "-n", ns, "--skip-iam")
		oneLineError(t, r, "preflight failed", "Managed Prometheus CRDs")
		mustContain(t, "stderr", r.stderr, "[FAIL] Managed Prometheus CRDs: monitoring.googleapis.com/v1 does not serve PodMonitoring", "--enable-managed-prometheus")
		noWrites(t, r)
	})
}

// withoutCRD deletes a CRD for the test and restores it after.
func withoutCRD(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	gvr := apiextv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	live, err := cluster.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextv1.CustomResourceDefinition
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &crd); err != nil {
		t.Fatal(err)
	}
	if err := cluster.dyn.Resource(gvr).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "CRD deleted", func(ctx context.Context) string {
		if _, err := cluster.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{}); err == nil {
			return "still there"
		}
		return ""
	})
	t.Cleanup(func() {
		crd.ObjectMeta = metav1.ObjectMeta{Name: crd.Name, Labels: crd.Labels, Annotations: crd.Annotations}
		crd.Status = apiextv1.CustomResourceDefinitionStatus{}
		m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&crd)
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		if _, err := cluster.dyn.Resource(gvr).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Errorf("restoring CRD %s: %v", name, err)
			return
		}
		eventually(t, 30*time.Second, "CRD restored and served", func(ctx context.Context) string {
			if _, err := cluster.dyn.Resource(podMonGVR).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				return err.Error()
			}
			return ""
		})
	})
}

// TestInterruptedSetupConverges: the connection to the apiserver drops in
// the middle of setup (after the adapter's level); setup says where it
// stopped, a rerun finishes the job, and a third run changes nothing. (The
// twin cannot restart its apiserver, so the test cuts the plugin's
// connection instead: from the plugin's side the same thing.)
func TestInterruptedSetupConverges(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-interrupted")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	// 1 parent + 6 identity/RBAC + 2 adapter objects = 9 PATCHes.
	r := pluginCut(t, cluster.kubeconfig, 9, "setup", "-n", ns, "--skip-iam", "--timeout", "5s")
	if r.code == 0 {
		t.Fatalf("setup succeeded without an apiserver: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "setup stopped:", "connection refused", "done before the failure: 9 created")
	if strings.Contains(r.stdout, "apiservice.apiregistration.k8s.io") {
		t.Errorf("APIServices claimed although the connection was down:\n%s", r.stdout)
	}
	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("rerun after the interruption: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "deployment.apps/custom-metrics-stackdriver-adapter unchanged",
		"apiservice.apiregistration.k8s.io/v1beta1.custom.metrics.k8s.io created", "horizontalpodautoscaler.autoscaling/vllm created")
	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam")
	if r.code != 0 || !strings.Contains(r.stdout, "setup complete: 13 unchanged") {
		t.Fatalf("third run: %s", r)
	}
	noWrites(t, r)
	if c := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns); c.code != 0 {
		t.Fatalf("cleanup: %s", c)
	}
}
