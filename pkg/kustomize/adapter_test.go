package kustomize

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// adapterDeployment renders the options and returns the adapter's
// Deployment as a typed object, so tests read fields, not YAML text.
func adapterDeployment(t *testing.T, o Options) *appsv1.Deployment {
	t.Helper()
	objs := renderObjects(t, o)
	var d appsv1.Deployment
	u := find(t, objs, "Deployment", "custom-metrics-stackdriver-adapter")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func renderObjects(t *testing.T, o Options) []*unstructured.Unstructured {
	t.Helper()
	res, err := Render(complete(o))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := res.Objects()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func adapterContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("adapter Deployment has %d containers, want 1", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// Item 2: the adapter serves on 443 in the pod (GKE's private-cluster
// control-plane firewall allows only 443 and 10250 to nodes), as a non-root
// user allowed to bind it by the safe sysctl; the Service keeps pointing at
// the named port.
func TestAdapterServesOn443(t *testing.T) {
	for name, o := range variants() {
		t.Run(name, func(t *testing.T) {
			d := adapterDeployment(t, o)
			c := adapterContainer(t, d)
			if !slices.Contains(c.Command, "--secure-port=443") {
				t.Errorf("adapter command %v lacks --secure-port=443", c.Command)
			}
			if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 443 || c.Ports[0].Name != "https" {
				t.Errorf("adapter ports %+v, want one port 443 named https", c.Ports)
			}
			pod := d.Spec.Template.Spec
			sc := pod.SecurityContext
			if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Fatalf("adapter pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", sc)
			}
			want := corev1.Sysctl{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}
			if !slices.Contains(sc.Sysctls, want) {
				t.Errorf("adapter pod sysctls %v lack %s=%s (a non-root process cannot bind 443 without it)", sc.Sysctls, want.Name, want.Value)
			}
			if pod.HostNetwork {
				t.Error("adapter uses the host network: net.* sysctls are refused with hostNetwork")
			}
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					t.Errorf("adapter port %s has hostPort %d", p.Name, p.HostPort)
				}
			}
			for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
				if probe != nil && probe.HTTPGet != nil && probe.HTTPGet.Port.String() != "https" {
					t.Errorf("probe on port %s, want the named port https", probe.HTTPGet.Port.String())
				}
			}
			svc := find(t, renderObjects(t, o), "Service", "custom-metrics-stackdriver-adapter")
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			if len(ports) != 1 {
				t.Fatalf("adapter Service ports %v, want one", ports)
			}
			p := ports[0].(map[string]any)
			if p["port"] != int64(443) || p["targetPort"] != "https" {
				t.Errorf("adapter Service port %v, want port 443 to targetPort https", p)
			}
		})
	}
}

// The sysctl must be one the apiserver admits for an unprivileged pod: the
// Pod Security "restricted" level of Kubernetes 1.37 (GKE Autopilot enforces
// Baseline, whose sysctl list restricted shares) must accept the adapter's
// pod as rendered.
func TestAdapterPodPassesRestrictedPodSecurity(t *testing.T) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.MajorMinorVersion(1, 37)}
	check := func(spec *corev1.PodSpec) []string {
		var failed []string
		for _, r := range eval.EvaluatePod(lv, &d0(t).Spec.Template.ObjectMeta, spec) {
			if !r.Allowed {
				failed = append(failed, r.ForbiddenReason+": "+r.ForbiddenDetail)
			}
		}
		return failed
	}
	spec := d0(t).Spec.Template.Spec
	if failed := check(&spec); len(failed) > 0 {
		t.Errorf("the adapter pod fails Pod Security restricted (v1.37): %v", failed)
	}
	// The check is real: an unsafe sysctl beside ours is refused.
	bad := spec.DeepCopy()
	bad.SecurityContext.Sysctls = append(bad.SecurityContext.Sysctls, corev1.Sysctl{Name: "net.core.somaxconn", Value: "1024"})
	if failed := check(bad); len(failed) == 0 {
		t.Error("Pod Security accepted net.core.somaxconn, an unsafe sysctl: the check proves nothing")
	}
}

func d0(t *testing.T) *appsv1.Deployment {
	o := NewOptions()
	o.Deployment = "vllm"
	return adapterDeployment(t, o)
}

// Item 3: Autopilot denies a nvidia.com/gpu toleration with operator Exists
// on a pod that asks for no GPU; GKE's taint is nvidia.com/gpu=present.
// The adapter prefers nodes without accelerators so it keeps none alive.
func TestAdapterTolerationsAndAffinity(t *testing.T) {
	pod := d0(t).Spec.Template.Spec
	gpu := corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpEqual, Value: "present", Effect: corev1.TaintEffectNoSchedule}
	if !slices.Contains(pod.Tolerations, gpu) {
		t.Errorf("tolerations %+v lack %+v", pod.Tolerations, gpu)
	}
	for _, tol := range pod.Tolerations {
		if tol.Operator == corev1.TolerationOpExists || tol.Operator == "" && tol.Value == "" {
			t.Errorf("toleration %+v matches by existence: Autopilot rejects it on a pod without GPUs", tol)
		}
	}
	a := pod.Affinity
	if a == nil || a.NodeAffinity == nil {
		t.Fatal("adapter has no node affinity")
	}
	if a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		t.Error("adapter requires a node affinity: it must still run on GPU-only clusters")
	}
	found := false
	for _, term := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		for _, e := range term.Preference.MatchExpressions {
			if e.Key == "cloud.google.com/gke-accelerator" && e.Operator == corev1.NodeSelectorOpDoesNotExist && term.Weight > 0 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("adapter's preferred node affinity %+v does not prefer nodes without cloud.google.com/gke-accelerator", a.NodeAffinity)
	}
	// Autopilot refuses node affinity on label keys outside its allowed set
	// (autogke-node-affinity-selector-limitation); gke-accelerator is in it.
	autopilotKeys := []string{"cloud.google.com/gke-accelerator", "kubernetes.io/os", "kubernetes.io/arch",
		"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "cloud.google.com/compute-class"}
	for _, term := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		for _, e := range term.Preference.MatchExpressions {
			if !slices.Contains(autopilotKeys, e.Key) {
				t.Errorf("node affinity on %s: Autopilot allows affinity only on keys such as %v", e.Key, autopilotKeys)
			}
		}
	}
}

// Item 9: the adapter lists metric descriptors before it serves, so a
// liveness probe would kill a slow start; readiness only, 5 s timeout.
func TestAdapterProbes(t *testing.T) {
	c := adapterContainer(t, d0(t))
	if c.LivenessProbe != nil {
		t.Errorf("adapter has a liveness probe %+v: it can kill the adapter while it lists descriptors", c.LivenessProbe)
	}
	r := c.ReadinessProbe
	if r == nil || r.HTTPGet == nil || r.HTTPGet.Path != "/healthz" || r.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Fatalf("readiness probe %+v, want HTTPS GET /healthz", r)
	}
	if r.TimeoutSeconds != 5 {
		t.Errorf("readiness probe timeoutSeconds %d, want 5 (upstream's)", r.TimeoutSeconds)
	}
	if c.StartupProbe != nil && c.StartupProbe.TimeoutSeconds != 5 {
		t.Errorf("startup probe timeoutSeconds %d, want 5", c.StartupProbe.TimeoutSeconds)
	}
}

// Item 8: the image of upstream's production manifest at the third_party
// commit.
func TestAdapterImage(t *testing.T) {
	const want = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0"
	if DefaultAdapterImage != want {
		t.Errorf("DefaultAdapterImage %s, want %s", DefaultAdapterImage, want)
	}
	if got := adapterContainer(t, d0(t)).Image; got != want {
		t.Errorf("rendered adapter image %s, want %s", got, want)
	}
	if b, err := os.ReadFile(upstreamManifest(t)); err == nil && !strings.Contains(string(b), "image: "+want+"\n") {
		t.Errorf("upstream's production manifest does not name %s: the source in ../shared is of another release", want)
	}
}

// Item 7: every metric we render is a Pods metric, so the adapter does not
// serve external.metrics.k8s.io, which KEDA and others own.
func TestNoExternalMetricsAPI(t *testing.T) {
	for name, o := range variants() {
		t.Run(name, func(t *testing.T) {
			objs := renderObjects(t, o)
			c := adapterContainer(t, adapterDeployment(t, o))
			if !slices.Contains(c.Command, "--enable-external-metrics-api=false") {
				t.Errorf("adapter command %v lacks --enable-external-metrics-api=false", c.Command)
			}
			for _, obj := range objs {
				b, _ := obj.MarshalJSON()
				if strings.Contains(string(b), "external.metrics.k8s.io") {
					t.Errorf("%s/%s mentions external.metrics.k8s.io", obj.GetKind(), obj.GetName())
				}
			}
			var apis []string
			for _, obj := range objs {
				if obj.GetKind() == "APIService" {
					apis = append(apis, obj.GetName())
				}
			}
			if want := []string{"v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"}; !slices.Equal(apis, want) {
				t.Errorf("APIServices %v, want %v", apis, want)
			}
			hpa := find(t, objs, "HorizontalPodAutoscaler", "")
			metrics, _, _ := unstructured.NestedSlice(hpa.Object, "spec", "metrics")
			for _, m := range metrics {
				if typ := m.(map[string]any)["type"]; typ != "Pods" {
					t.Errorf("HPA metric of type %v: only Pods metrics are served without the external metrics API", typ)
				}
			}
		})
	}
}

// thirdParty is the adapter's source in ../shared/third_party, or a skip.
func thirdParty(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		c := filepath.Join(dir, "shared", "third_party", "custom-metrics-stackdriver-adapter")
		if _, err := os.Stat(filepath.Join(c, "adapter.go")); err == nil {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/third_party/custom-metrics-stackdriver-adapter (the adapter's source) is not beside the repository: the flag check reads it")
		}
		dir = parent
	}
}

func upstreamManifest(t *testing.T) string {
	return filepath.Join(thirdParty(t), "deploy", "production", "adapter_new_resource_model.yaml")
}

// flagDefRE matches a pflag definition: fs.BoolVar(&x, "name", ...),
// flags.StringVar(...), b.FlagSet.DurationVar(...).
var flagDefRE = regexp.MustCompile(`\.\w*Var\w*\(\s*&?[\w.\[\]]+,\s*"([a-z0-9][a-z0-9-]*)"`)

// adapterFlags parses the flag names the adapter binary defines: its own in
// adapter.go, and those of the generic adapter and API server libraries it
// builds on, read from the module cache at the versions its go.mod pins.
func adapterFlags(t *testing.T) map[string]bool {
	src := thirdParty(t)
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	version := func(mod string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + `\s+(v\S+)`).FindSubmatch(gomod)
		if m == nil {
			t.Fatalf("%s/go.mod does not require %s", src, mod)
		}
		return string(m[1])
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	modcache := strings.TrimSpace(string(out))
	if err != nil || modcache == "" {
		t.Skipf("go env GOMODCACHE: %v: the flag check reads the adapter's libraries from the module cache", err)
	}
	dirs := []string{
		src,
		filepath.Join(modcache, "sigs.k8s.io", "custom-metrics-apiserver@"+version("sigs.k8s.io/custom-metrics-apiserver"), "pkg", "cmd"),
		filepath.Join(modcache, "sigs.k8s.io", "custom-metrics-apiserver@"+version("sigs.k8s.io/custom-metrics-apiserver"), "pkg", "cmd", "options"),
		filepath.Join(modcache, "k8s.io", "apiserver@"+version("k8s.io/apiserver"), "pkg", "server", "options"),
	}
	flags := map[string]bool{}
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.go"))
		if len(files) == 0 {
			t.Skipf("%s is not in the module cache (run go mod download in a copy of the adapter's source): the flag check reads it", d)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range flagDefRE.FindAllSubmatch(b, -1) {
				flags[string(m[1])] = true
			}
		}
	}
	return flags
}

// Every flag we pass exists in the adapter we run (an unknown flag makes it
// exit at start-up), and the parse is not vacuous.
func TestAdapterFlagsExist(t *testing.T) {
	known := adapterFlags(t)
	for _, f := range []string{"use-new-resource-model", "enable-external-metrics-api", "secure-port", "cert-dir", "lister-kubeconfig"} {
		if !known[f] {
			t.Fatalf("the flag parser did not find --%s in the adapter's source: it is broken", f)
		}
	}
	if known["no-such-flag"] {
		t.Fatal("the flag parser found --no-such-flag")
	}
	for name, o := range variants() {
		c := adapterContainer(t, adapterDeployment(t, o))
		if len(c.Command) == 0 || c.Command[0] != "/adapter" {
			t.Fatalf("%s: adapter command %v does not start with /adapter", name, c.Command)
		}
		for _, arg := range append(c.Command[1:], c.Args...) {
			flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if !strings.HasPrefix(arg, "--") || !known[flag] {
				t.Errorf("%s: adapter argument %q is not a flag the adapter defines", name, arg)
			}
		}
	}
}

// Item 4: the GPU series is recorded under a name only we write, so a
// tutorial's (or anyone's) dcgm_fi_dev_gpu_util rule cannot add a second
// series the adapter would sum into ours; the HPA reads that name.
func TestGPUUtilRecordedUnderOurName(t *testing.T) {
	const recorded = "infer_hpa:dcgm_fi_dev_gpu_util"
	kind, _ := LookupMetric("gpu-util")
	if want := "prometheus.googleapis.com|" + recorded + "|gauge"; kind.AdapterName != want {
		t.Errorf("gpu-util adapter name %s, want %s", kind.AdapterName, want)
	}
	o := NewOptions()
	o.Deployment, o.Metrics = "vllm", []Metric{{Name: "gpu-util"}}
	objs := renderObjects(t, o)
	rules := find(t, objs, "ClusterRules", "infer-hpa-dcgm-gpu-util")
	groups, _, _ := unstructured.NestedSlice(rules.Object, "spec", "groups")
	var records []string
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			records = append(records, rule["record"].(string))
			expr := strings.Join(strings.Fields(rule["expr"].(string)), " ")
			// Several GPUs of one pod (or one GPU scraped twice) become one
			// series: their average, which a duplicate leaves unchanged.
			if !strings.HasPrefix(expr, "avg by (namespace, pod) (") {
				t.Errorf("rule %s expr %q does not average by namespace and pod", rule["record"], expr)
			}
		}
	}
	if !slices.Equal(records, []string{recorded}) {
		t.Errorf("ClusterRules records %v, want [%s]", records, recorded)
	}
	hpa := find(t, objs, "HorizontalPodAutoscaler", "")
	metrics, _, _ := unstructured.NestedSlice(hpa.Object, "spec", "metrics")
	got, _, _ := unstructured.NestedString(metrics[0].(map[string]any), "pods", "metric", "name")
	if got != kind.AdapterName {
		t.Errorf("HPA asks for %s, want %s", got, kind.AdapterName)
	}
}

// Item 11: on GKE Standard the adapter must land on a node that runs the
// GKE metadata server (Workload Identity is per node pool); on Autopilot the
// planner turns the selector off.
func TestAdapterNodes(t *testing.T) {
	o := NewOptions()
	o.Deployment = "vllm"
	if o.AdapterNodes != AdapterNodesMetadataServer {
		t.Errorf("default AdapterNodes %q, want %q", o.AdapterNodes, AdapterNodesMetadataServer)
	}
	want := map[string]string{MetadataServerNodeLabel: "true"}
	if got := adapterDeployment(t, o).Spec.Template.Spec.NodeSelector; !maps.Equal(got, want) {
		t.Errorf("adapter nodeSelector %v, want %v", got, want)
	}
	o.AdapterNodes = AdapterNodesAny
	if got := adapterDeployment(t, o).Spec.Template.Spec.NodeSelector; len(got) != 0 {
		t.Errorf("adapter nodes any: nodeSelector %v, want none", got)
	}
	for _, bad := range []string{"", "autopilot", "Any"} {
		o.AdapterNodes = bad
		_, err := Render(complete(o))
		if err == nil || !strings.Contains(err.Error(), "--adapter-nodes") || !strings.Contains(err.Error(), "metadata-server, any") {
			t.Errorf("AdapterNodes %q: error %v, want one naming --adapter-nodes and its values", bad, err)
		}
	}
	// The selector touches nothing else of the adapter or of other objects.
	on, off := NewOptions(), NewOptions()
	on.Deployment, off.Deployment, off.AdapterNodes = "vllm", "vllm", AdapterNodesAny
	a, b := adapterDeployment(t, on), adapterDeployment(t, off)
	a.Spec.Template.Spec.NodeSelector = nil
	if !equality.Semantic.DeepEqual(a, b) {
		t.Error("the metadata-server selector changed more of the adapter than its nodeSelector")
	}
	if len(renderObjects(t, on)) != len(renderObjects(t, off)) {
		t.Error("the metadata-server selector changed the set of objects")
	}
}
