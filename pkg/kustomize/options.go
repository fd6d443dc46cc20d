// Package kustomize turns typed options into the manifests of the whole
// chain: an in-memory overlay on top of the embedded library, built with
// krusty. It is pure: no cluster, no network.
package kustomize

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Behavior presets and DCGM modes (the Workload Identity modes are
// identity.Mode).
const (
	BehaviorGPU        = "gpu"
	BehaviorTutorial   = "tutorial"
	BehaviorKubernetes = "kubernetes"

	DCGMManaged = "managed"
	DCGMSelf    = "self"
	DCGMOff     = "off"

	// AdapterNodesMetadataServer schedules the adapter onto nodes labelled
	// MetadataServerNodeLabel=true (GKE Standard: Workload Identity is a
	// node pool setting); AdapterNodesAny leaves the choice to the scheduler
	// (Autopilot: every node has it, and node selectors outside Autopilot's
	// allowed labels are refused).
	AdapterNodesMetadataServer = "metadata-server"
	AdapterNodesAny            = "any"

	// MetadataServerNodeLabel is the label GKE sets to "true" on nodes that
	// run the GKE metadata server.
	MetadataServerNodeLabel = "iam.gke.io/gke-metadata-server-enabled"

	// DefaultAdapterImage is the image of upstream's production manifest at
	// k8s-stackdriver 673c7dd (2026-08-18), the source in ../shared/third_party;
	// the tutorial and GKE docs named v0.16.1-gke.0 (2025-05), which lacks later
	// fixes (filter injection through In/NotIn selectors, errors that leaked the
	// service account e-mail).
	DefaultAdapterImage = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0"
)

// Options are the parameters of the library. Field comments name the
// render/setup flag that sets each; errors from Validate name those flags.
type Options struct {
	Namespace         string            // -n/--namespace
	Deployment        string            // --deployment
	HPAName           string            // --hpa-name (default: the deployment's name)
	PodMonitoringName string            // --podmonitoring-name (default: DEPLOYMENT-vllm)
	PodSelector       map[string]string // --pod-label (default: app=DEPLOYMENT)
	MetricsPort       string            // --metrics-port: a number or a port name
	MetricsPath       string            // --metrics-path
	ScrapeInterval    time.Duration     // --scrape-interval
	Metrics           []Metric          // --metric (default: running)
	MinReplicas       int32             // --min
	MaxReplicas       int32             // --max
	Behavior          string            // --behavior
	DCGM              string            // --dcgm
	WIMode            identity.Mode     // --wi-mode
	Project           string            // --project
	GSAName           string            // --gsa-name
	AdapterImage      string            // --adapter-image
	// AdapterNodes is where the adapter may run (--adapter-nodes):
	// AdapterNodesMetadataServer (the default, for GKE Standard) or
	// AdapterNodesAny (for Autopilot). A planner that knows the cluster turns
	// the selector off by setting AdapterNodesAny.
	AdapterNodes string
	// Path is how the HPA gets its metrics (--path): PathAdapter (the
	// default) or PathNative; PathAuto is for setup/diff to resolve first.
	Path string
	// AutoscalingMetricName names the AutoscalingMetric on the native path
	// (--autoscalingmetric-name, default: DEPLOYMENT-vllm).
	AutoscalingMetricName string
}

// Defaults that Complete fills in when a field is empty: setup and diff
// infer these from the cluster first.
const (
	// DefaultMetricsPort is vLLM's own default, where the tutorial uses 8081.
	DefaultMetricsPort = "8000"
	DefaultDCGM        = DCGMManaged
	DefaultPath        = PathAdapter
)

// NewOptions returns the defaults nobody infers: the tutorial's chain. What
// setup and diff infer from the cluster (the Deployment, its pod labels,
// the metrics port, DCGM, the path, the project) stays empty; Complete
// fills what is still empty once the planner is done (render has no
// cluster: for it, Complete fills them all).
func NewOptions() Options {
	return Options{
		Namespace:      "default",
		MetricsPath:    "/metrics",
		ScrapeInterval: 15 * time.Second,
		MinReplicas:    1,
		MaxReplicas:    5,
		Behavior:       BehaviorGPU,
		WIMode:         identity.DefaultMode,
		GSAName:        identity.DefaultGSAName,
		AdapterImage:   DefaultAdapterImage,
		AdapterNodes:   AdapterNodesMetadataServer,
	}
}

// DefaultMetrics is --metric when none is given.
func DefaultMetrics() []Metric { return []Metric{{Name: "running"}} }

// MetricsOrDefault is Metrics, or DefaultMetrics when none is given.
func (o *Options) MetricsOrDefault() []Metric {
	if len(o.Metrics) == 0 {
		return DefaultMetrics()
	}
	return o.Metrics
}

// Complete fills in what is still empty: the names and the pod selector
// that follow from the Deployment, and the defaults. It is called once, by
// render or by the planner after it inferred what it could.
func (o *Options) Complete() {
	if o.HPAName == "" {
		o.HPAName = o.Deployment
	}
	if o.PodMonitoringName == "" && o.Deployment != "" {
		o.PodMonitoringName = o.Deployment + "-vllm"
	}
	if o.AutoscalingMetricName == "" && o.Deployment != "" {
		o.AutoscalingMetricName = o.Deployment + "-vllm"
	}
	if len(o.PodSelector) == 0 && o.Deployment != "" {
		o.PodSelector = map[string]string{"app": o.Deployment}
	}
	o.Metrics = o.MetricsOrDefault()
	o.GSAName = cmp.Or(o.GSAName, identity.DefaultGSAName)
	o.MetricsPort = cmp.Or(o.MetricsPort, DefaultMetricsPort)
	o.DCGM = cmp.Or(o.DCGM, DefaultDCGM)
	o.Path = cmp.Or(o.Path, DefaultPath)
}

// imageRE is a loose check of image references that catches spaces and
// empty parts.
var imageRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)

// ValidateGiven checks what the user gave before a planner infers the rest
// from the cluster: every check of Validate, on a completed copy, except
// that the names a missing Deployment would give are not required, and
// --path auto (the planner resolves it) is taken as adapter.
func (o Options) ValidateGiven() error {
	if o.Path == PathAuto {
		o.Path = PathAdapter // the native path's own checks run once the path is chosen
	}
	o.Complete()
	return o.validate(o.Deployment != "")
}

// Validate checks complete options (see Complete) and returns the first
// problem, naming the flag and the fix.
func (o *Options) Validate() error { return o.validate(true) }

// validate runs every check; without named (no Deployment yet), the
// names are checked only where given.
func (o *Options) validate(named bool) error {
	names := o.validateNames
	if !named {
		names = o.validateGivenNames
	}
	checks := []func() error{
		o.validateDerivedNames, names, o.validateSelector, o.validateEndpoint,
		o.validateReplicas, o.validateMetrics, o.validateModes, o.validateNative,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func dns1123(flag, kind, v string, check func(string) []string) error {
	if v == "" {
		return fmt.Errorf("%s is required: give the %s, e.g. %s vllm", flag, kind, flag)
	}
	if errs := check(v); len(errs) > 0 {
		msg, _, _ := strings.Cut(errs[0], " (e.g.")
		return fmt.Errorf("%s %q is not a valid %s: %s", flag, v, kind, msg)
	}
	return nil
}

func (o *Options) validateNames() error {
	if err := dns1123("--namespace", "namespace name", o.Namespace, validation.IsDNS1123Label); err != nil {
		return err
	}
	if err := dns1123("--deployment", "Deployment name", o.Deployment, validation.IsDNS1123Subdomain); err != nil {
		return err
	}
	if err := dns1123("--hpa-name", "HPA name", o.HPAName, validation.IsDNS1123Subdomain); err != nil {
		return err
	}
	return dns1123("--podmonitoring-name", "PodMonitoring name", o.PodMonitoringName, validation.IsDNS1123Subdomain)
}

// validateGivenNames checks the names given while the Deployment is not.
func (o *Options) validateGivenNames() error {
	if err := dns1123("--namespace", "namespace name", o.Namespace, validation.IsDNS1123Label); err != nil {
		return err
	}
	for _, n := range []struct{ flag, kind, v string }{
		{"--hpa-name", "HPA name", o.HPAName},
		{"--podmonitoring-name", "PodMonitoring name", o.PodMonitoringName},
		{"--autoscalingmetric-name", "AutoscalingMetric name", o.AutoscalingMetricName},
	} {
		if n.v == "" {
			continue
		}
		if err := dns1123(n.flag, n.kind, n.v, validation.IsDNS1123Subdomain); err != nil {
			return err
		}
	}
	return nil
}

func (o *Options) validateSelector() error {
	for k, v := range o.PodSelector {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("--pod-label %q: invalid label key: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("--pod-label %s=%q: invalid label value: %s", k, v, errs[0])
		}
	}
	return nil
}

// MetricsPortValue is the port as the PodMonitoring wants it: a number when
// the flag was numeric, else the container port's name.
func (o *Options) MetricsPortValue() any {
	if n, err := strconv.Atoi(o.MetricsPort); err == nil {
		return n
	}
	return o.MetricsPort
}

func (o *Options) validateEndpoint() error {
	if n, err := strconv.Atoi(o.MetricsPort); err == nil {
		if n < 1 || n > 65535 {
			return fmt.Errorf("--metrics-port %d is out of range: use a port between 1 and 65535, or the container port's name", n)
		}
	} else if errs := validation.IsValidPortName(o.MetricsPort); len(errs) > 0 {
		return fmt.Errorf("--metrics-port %q is neither a port number nor a port name: %s", o.MetricsPort, errs[0])
	}
	if !strings.HasPrefix(o.MetricsPath, "/") || strings.ContainsAny(o.MetricsPath, " ?#") {
		return fmt.Errorf("--metrics-path %q is not a URL path: use an absolute path such as /metrics", o.MetricsPath)
	}
	if o.ScrapeInterval < time.Second || o.ScrapeInterval%time.Second != 0 {
		return fmt.Errorf("--scrape-interval %s: use a whole number of seconds, at least 1s (the tutorial uses 15s)", o.ScrapeInterval)
	}
	return nil
}

func (o *Options) validateReplicas() error {
	if o.MinReplicas < 1 {
		return fmt.Errorf("--min %d: the HPA needs at least 1 replica: use --min 1 or more", o.MinReplicas)
	}
	if o.MaxReplicas < o.MinReplicas {
		return fmt.Errorf("--max %d is below --min %d: raise --max or lower --min", o.MaxReplicas, o.MinReplicas)
	}
	return nil
}

func (o *Options) validateMetrics() error {
	seen := map[string]bool{}
	for _, m := range o.Metrics {
		kind, ok := LookupMetric(m.Name)
		if !ok {
			return fmt.Errorf("--metric %q: unknown metric: use one of %s", m.Name, strings.Join(MetricNames(), ", "))
		}
		if seen[m.Name] {
			return fmt.Errorf("--metric %s is given twice: give each metric once", m.Name)
		}
		seen[m.Name] = true
		if kind.NeedsDCGM && o.DCGM == DCGMOff {
			return errors.New("--metric gpu-util needs DCGM GPU metrics but --dcgm is off: use --dcgm managed (GKE's exporter) or --dcgm self")
		}
	}
	return nil
}

func (o *Options) validateModes() error {
	if err := oneOf("--behavior", o.Behavior, BehaviorGPU, BehaviorTutorial, BehaviorKubernetes); err != nil {
		return err
	}
	if err := oneOf("--dcgm", o.DCGM, DCGMManaged, DCGMSelf, DCGMOff); err != nil {
		return err
	}
	if err := oneOf("--wi-mode", o.WIMode, identity.Modes()...); err != nil {
		return err
	}
	if err := oneOf("--adapter-nodes", o.AdapterNodes, AdapterNodesMetadataServer, AdapterNodesAny); err != nil {
		return err
	}
	if !imageRE.MatchString(o.AdapterImage) {
		return fmt.Errorf("--adapter-image %q is not an image reference: use e.g. %s", o.AdapterImage, DefaultAdapterImage)
	}
	if o.Project != "" {
		if err := identity.ValidateProjectID(o.Project); err != nil {
			return err
		}
	}
	if o.WIMode != identity.ModeGSA {
		return nil
	}
	if o.Project == "" {
		return errors.New("--wi-mode gsa needs --project to name the Google service account: add --project PROJECT_ID")
	}
	return identity.ValidateGSAName(o.GSAName)
}

func oneOf[T ~string](flag string, v T, allowed ...T) error {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		if v == a {
			return nil
		}
		names[i] = string(a)
	}
	return fmt.Errorf("%s %q is not supported: use one of %s", flag, v, strings.Join(names, ", "))
}

// GSAEmail is the Google service account's e-mail in gsa mode.
func (o *Options) GSAEmail() string {
	return identity.Config{ProjectID: o.Project, GSAName: o.GSAName}.GSAEmail()
}
