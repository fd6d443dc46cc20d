package discover

import (
	"fmt"
	"regexp"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
)

// GKE's requirements for the native path (AutoscalingMetric), from GKE's
// pages "Expose custom metrics for autoscaling" (Preview: GKE
// 1.35.1-gke.1396000 or later in the Rapid channel) and "Autoscale Pods by
// using custom or external metrics" (the newer text: GKE 1.37.0-gke.3100000
// or later, and in Preview from 1.36.4-gke.1247000). Both require the HPA's
// performance profile. The Preview limits (at most 20 unique metrics per
// cluster, selector label names of letters, digits, '-' and '_') are stated
// for versions below NativeGAVersion; the newer page states 50 unique
// metrics per node by default for the rest.
const (
	NativeGroupVersion = "autoscaling.gke.io/v1beta1"
	NativeKind         = "AutoscalingMetric"
	NativeResource     = "autoscalingmetrics"
	// NativeMinVersion is the earliest version GKE documents (Preview).
	NativeMinVersion = "v1.35.1-gke.1396000"
	// NativeGAVersion is where GKE documents the feature without the
	// Preview's per-cluster limit.
	NativeGAVersion = "v1.37.0-gke.3100000"
	// HPAProfileFix is what to run: the profile is a cluster setting
	// (podAutoscaling.hpaProfile in GKE's clusters API), which no
	// Kubernetes API of the cluster shows.
	HPAProfileFix = "check it with gcloud container clusters describe CLUSTER --location LOCATION --format='value(podAutoscaling.hpaProfile)' and enable it with gcloud container clusters update CLUSTER --location LOCATION --hpa-profile=performance"
)

// gkeVersionRE reads vMAJOR.MINOR.PATCH-gke.N.
var gkeVersionRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)-gke\.(\d+)`)

// NativeSupport is what the cluster says about the native path.
type NativeSupport struct {
	// Version is the server's gitVersion; VersionOK says it is a GKE
	// version at or above NativeMinVersion.
	Version   string
	VersionOK bool
	// GA says the version is at or above NativeGAVersion (no Preview
	// limits).
	GA bool
	// KindServed says autoscaling.gke.io/v1beta1 serves AutoscalingMetric.
	KindServed bool
}

// gkeVersion parses a GKE version into comparable numbers.
func gkeVersion(v string) ([4]int, bool) {
	m := gkeVersionRE.FindStringSubmatch(v)
	if m == nil {
		return [4]int{}, false
	}
	var out [4]int
	for i := range out {
		out[i], _ = strconv.Atoi(m[i+1])
	}
	return out, true
}

// GKEVersionAtLeast says whether v is a GKE version at or above min.
func GKEVersionAtLeast(v, min string) bool {
	a, ok := gkeVersion(v)
	b, okMin := gkeVersion(min)
	if !ok || !okMin {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// DetectNative reads the server version and whether the kind is served.
func DetectNative(d discovery.DiscoveryInterface) (NativeSupport, error) {
	var n NativeSupport
	v, err := d.ServerVersion()
	if err != nil {
		return n, fmt.Errorf("cannot read the server version: %w", err)
	}
	n.Version = v.GitVersion
	n.VersionOK = GKEVersionAtLeast(v.GitVersion, NativeMinVersion)
	n.GA = GKEVersionAtLeast(v.GitVersion, NativeGAVersion)
	list, err := d.ServerResourcesForGroupVersion(NativeGroupVersion)
	if err != nil && !apierrors.IsNotFound(err) {
		return n, fmt.Errorf("cannot read the API discovery of %s: %w", NativeGroupVersion, err)
	}
	if list != nil {
		for _, r := range list.APIResources {
			if r.Kind == NativeKind {
				n.KindServed = true
			}
		}
	}
	return n, nil
}

// Native says whether auto picks the native path, and why, in the words of
// setup's "discovered: path ..." line.
func (n NativeSupport) Native() (bool, string) {
	switch {
	case n.VersionOK && n.KindServed:
		return true, fmt.Sprintf("GKE %s, %s served; the HPA needs the performance profile: %s%s", n.Version, NativeKind, HPAProfileFix, n.stage())
	case n.KindServed:
		return false, fmt.Sprintf("%s is served but %s is below %s", NativeKind, orUnknown(n.Version), NativeMinVersion)
	case n.VersionOK:
		return false, fmt.Sprintf("GKE %s does not serve %s (in Preview it is on the Rapid channel only)", n.Version, NativeGroupVersion+" "+NativeKind)
	}
	return false, fmt.Sprintf("%s is not GKE %s or later with %s", orUnknown(n.Version), NativeMinVersion, NativeKind)
}

// RequireNative is the error for --path native on a cluster that cannot
// serve it, or nil.
func (n NativeSupport) RequireNative() error {
	if n.KindServed {
		return nil
	}
	return fmt.Errorf("--path native: the cluster (%s) does not serve %s %s: it needs GKE %s or later (%s in Preview, on the Rapid channel); use --path adapter", orUnknown(n.Version), NativeGroupVersion, NativeKind, NativeGAVersion, NativeMinVersion)
}

// stage names the launch stage GKE documents for the version.
func (n NativeSupport) stage() string {
	if n.GA {
		return ""
	}
	return fmt.Sprintf("; Preview below %s: at most %d unique metrics per cluster", NativeGAVersion, NativePreviewMaxMetrics)
}

// MaxMetrics is GKE's documented limit of unique metrics per cluster for
// the version, or 0 when GKE documents none per cluster (from
// NativeGAVersion on, the limit is 50 per node by default).
func (n NativeSupport) MaxMetrics() int {
	if n.GA {
		return 0
	}
	return NativePreviewMaxMetrics
}

// NativePreviewMaxMetrics is the Preview's limit of unique metrics per
// cluster ("Expose custom metrics for autoscaling").
const NativePreviewMaxMetrics = 20

func orUnknown(v string) string {
	if v == "" {
		return "version unknown"
	}
	return v
}
