package discover

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// GKE names a GKE cluster. Any field may be empty when it was not found.
type GKE struct {
	Project, Location, Cluster string
	// Source says where the names came from, for the report.
	Source string
}

// FromContext reads a gcloud-made kubeconfig context name,
// gke_PROJECT_LOCATION_CLUSTER. Project IDs and locations have no
// underscores; cluster names neither, so the split is exact.
func FromContext(name string) (GKE, bool) {
	parts := strings.Split(name, "_")
	if len(parts) != 4 || parts[0] != "gke" || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return GKE{}, false
	}
	return GKE{Project: parts[1], Location: parts[2], Cluster: parts[3], Source: "kubeconfig context " + name}, true
}

// FromProviderID reads a GCE node's spec.providerID, gce://PROJECT/ZONE/NAME,
// and returns the project and zone.
func FromProviderID(id string) (project, zone string, ok bool) {
	rest, found := strings.CutPrefix(id, "gce://")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// DetectGKE combines the kubeconfig context name with the first node's
// provider ID. The nodes win for the project (a context can be renamed);
// the context is the only source of the cluster name and region.
func DetectGKE(ctx context.Context, c kubernetes.Interface, contextName string) GKE {
	g, _ := FromContext(contextName)
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil || len(nodes.Items) == 0 {
		return g
	}
	if p, zone, ok := FromProviderID(nodes.Items[0].Spec.ProviderID); ok {
		if g.Project != p {
			g.Project, g.Source = p, "node "+nodes.Items[0].Name+" providerID"
		}
		if g.Location == "" {
			g.Location = zone
		}
	}
	return g
}

// CheckProject compares the --project the user gave with the cluster's
// project: the adapter reads Cloud Monitoring in the cluster's project, so a
// grant in another project leaves it without access. A mismatch is an error
// naming both projects unless allow (--allow-project-mismatch) is set; then
// the returned note says what will happen. Nothing is compared when either
// project is unknown.
func CheckProject(project string, g GKE, allow bool) (note string, err error) {
	if project == "" || g.Project == "" || project == g.Project {
		return "", nil
	}
	if allow {
		return fmt.Sprintf("--project %s differs from the cluster's project %s (from %s); --allow-project-mismatch: the role is granted in %s, while the adapter reads Cloud Monitoring in %s", project, g.Project, g.Source, project, g.Project), nil
	}
	return "", fmt.Errorf("--project %s differs from the cluster's project %s (from %s): the adapter reads Cloud Monitoring in %s, so a grant in %s would not help it; drop --project (or give --project %s), or pass --allow-project-mismatch if you mean it", project, g.Project, g.Source, g.Project, project, g.Project)
}
