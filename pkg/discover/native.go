package discover

import (
	"fmt"
	"regexp"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
)

// GKE's requirements for the native path (AutoscalingMetric), from GKE's
// "Expose custom metrics for autoscaling": GKE 1.35.1-gke.1396000 or later
// in the Rapid channel, and the HPA's performance profile.
const (
	NativeGroupVersion = "autoscaling.gke.io/v1beta1"
	NativeKind         = "AutoscalingMetric"
	NativeMinVersion   = "v1.35.1-gke.1396000"
	// HPAProfileFix is what to run when the profile cannot be read from the
	// cluster (it is a cluster setting, not an API object).
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
		return true, fmt.Sprintf("GKE %s, %s served; the HPA needs the performance profile: %s", n.Version, NativeKind, HPAProfileFix)
	case n.KindServed:
		return false, fmt.Sprintf("%s is served but %s is below %s", NativeKind, orUnknown(n.Version), NativeMinVersion)
	case n.VersionOK:
		return false, fmt.Sprintf("GKE %s does not serve %s (Rapid channel only)", n.Version, NativeGroupVersion+" "+NativeKind)
	}
	return false, fmt.Sprintf("%s is not GKE %s or later with %s", orUnknown(n.Version), NativeMinVersion, NativeKind)
}

// RequireNative is the error for --path native on a cluster that cannot
// serve it, or nil.
func (n NativeSupport) RequireNative() error {
	if n.KindServed {
		return nil
	}
	return fmt.Errorf("--path native: the cluster (%s) does not serve %s %s: it needs GKE %s or later in the Rapid channel; use --path adapter", orUnknown(n.Version), NativeGroupVersion, NativeKind, NativeMinVersion)
}

func orUnknown(v string) string {
	if v == "" {
		return "version unknown"
	}
	return v
}
