package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// ManifestFlags are the flags that choose what the library renders; render,
// setup and diff share them.
type ManifestFlags struct {
	Options kustomize.Options
	metrics []string
	labels  []string
}

// NewManifestFlags returns the flags with the library's defaults; what
// setup and diff infer from the cluster stays empty (see kustomize.NewOptions).
func NewManifestFlags() *ManifestFlags {
	return &ManifestFlags{Options: kustomize.NewOptions()}
}

// AddFlags binds the flags.
func (f *ManifestFlags) AddFlags(fs *pflag.FlagSet) {
	o := &f.Options
	fs.StringVar(&o.Deployment, "deployment", o.Deployment, "The vLLM Deployment to autoscale")
	fs.StringVar(&o.HPAName, "hpa-name", o.HPAName, "Name of the HPA (default: the Deployment's name)")
	fs.StringVar(&o.PodMonitoringName, "podmonitoring-name", o.PodMonitoringName, "Name of the PodMonitoring (default: DEPLOYMENT-vllm)")
	fs.StringArrayVar(&f.labels, "pod-label", nil, "Label KEY=VALUE of the vLLM pods, repeatable (default: app=DEPLOYMENT)")
	fs.StringVar(&o.MetricsPort, "metrics-port", o.MetricsPort, "vLLM's metrics port: a number or the container port's name (default: 8000, vLLM's own; setup and diff read it from the Deployment)")
	fs.StringVar(&o.MetricsPath, "metrics-path", o.MetricsPath, "vLLM's metrics path")
	fs.DurationVar(&o.ScrapeInterval, "scrape-interval", o.ScrapeInterval, "How often Managed Prometheus scrapes vLLM (and DCGM with --dcgm self)")
	fs.StringArrayVar(&f.metrics, "metric", nil, fmt.Sprintf("Metric to scale on, NAME or NAME=TARGET, repeatable; NAME is one of %s (default: running=4)", strings.Join(kustomize.MetricNames(), ", ")))
	fs.Int32Var(&o.MinReplicas, "min", o.MinReplicas, "Minimum replicas of the HPA")
	fs.Int32Var(&o.MaxReplicas, "max", o.MaxReplicas, "Maximum replicas of the HPA")
	fs.StringVar(&o.Behavior, "behavior", o.Behavior, "Scaling behavior preset: gpu (slow-starting GPU pods), tutorial, or kubernetes (the defaults)")
	fs.StringVar(&o.DCGM, "dcgm", o.DCGM, "GPU metrics source: managed (GKE's DCGM exporter), self (your own exporter, scraped by a ClusterPodMonitoring), or off (default: managed; setup and diff choose from the cluster)")
	fs.StringVar((*string)(&o.WIMode), "wi-mode", string(o.WIMode), "Workload Identity for the adapter: principal (grant the KSA directly), gsa (through a Google service account), or none")
	fs.StringVar(&o.Project, "project", o.Project, "Google Cloud project ID (needed with --wi-mode gsa)")
	fs.StringVar(&o.GSAName, "gsa-name", o.GSAName, "Google service account ID for --wi-mode gsa")
	fs.StringVar(&o.AdapterImage, "adapter-image", o.AdapterImage, "Adapter image, e.g. from a mirrored registry")
	fs.StringVar(&o.Path, "path", o.Path, "How the HPA gets vLLM's metrics: adapter (Managed Prometheus + the Stackdriver adapter), native (GKE's AutoscalingMetric: GKE 1.37.0-gke.3100000+, or in Preview 1.35.1-gke.1396000+ on the Rapid channel; HPA performance profile) or, for setup and diff (their default), auto: native when the cluster serves AutoscalingMetric; render defaults to adapter")
	fs.StringVar(&o.AutoscalingMetricName, "autoscalingmetric-name", o.AutoscalingMetricName, "Name of the AutoscalingMetric on --path native (default: DEPLOYMENT-vllm)")
	fs.StringVar(&o.AdapterNodes, "adapter-nodes", o.AdapterNodes, "Where the adapter may run: metadata-server (only nodes labelled "+kustomize.MetadataServerNodeLabel+"=true: GKE Standard) or any (GKE Autopilot)")
}

// ToOptions parses the repeatable flags and returns the library options for
// the namespace given.
func (f *ManifestFlags) ToOptions(namespace string) (kustomize.Options, error) {
	o := f.Options
	o.Namespace = namespace
	o.Metrics = nil
	for _, s := range f.metrics {
		m, err := kustomize.ParseMetric(s)
		if err != nil {
			return o, err
		}
		o.Metrics = append(o.Metrics, m)
	}
	if len(f.labels) > 0 {
		o.PodSelector = map[string]string{}
	}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return o, fmt.Errorf("--pod-label %q: use KEY=VALUE, e.g. --pod-label app=gemma-server", l)
		}
		o.PodSelector[k] = v
	}
	return o, nil
}

// namespaceOf is the -n flag, else the kubeconfig context's namespace, else
// "default"; it never contacts a cluster.
func namespaceOf(cf *genericclioptions.ConfigFlags) string {
	if ns, _, err := cf.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}
