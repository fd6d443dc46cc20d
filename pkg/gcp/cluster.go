package gcp

import (
	"context"
	"fmt"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Cluster names a GKE cluster: its project, location (region or zone) and
// name.
type Cluster struct {
	Project, Location, Name string
}

// Resource is the cluster's name in GKE's API.
func (c Cluster) Resource() string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", c.Project, c.Location, c.Name)
}

// WorkloadPool reads the cluster's workload identity pool,
// workloadIdentityConfig.workloadPool, through GKE's clusters.get. A
// cluster without Workload Identity is a KindWorkloadIdentityDisabled
// *Error; a caller without container.clusters.get gets a
// KindPermissionDenied one (the caller may then fall back to PoolFor).
func (c *Client) WorkloadPool(ctx context.Context, cl Cluster) (string, error) {
	cfg := identity.Config{ProjectID: cl.Project}
	op := "get " + cl.Resource()
	var pool string
	err := c.call(ctx, op, "container.clusters.get", cfg, func() error {
		got, err := c.container.Projects.Locations.Clusters.Get(cl.Resource()).Context(ctx).Do()
		if err == nil && got.WorkloadIdentityConfig != nil {
			pool = got.WorkloadIdentityConfig.WorkloadPool
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if pool == "" {
		return "", &Error{Kind: KindWorkloadIdentityDisabled, Op: op,
			Fix: fmt.Sprintf("enable it with `gcloud container clusters update %s --location=%s --project=%s --workload-pool=%s` (and let node pools use it: `gcloud container node-pools update NODEPOOL --cluster=%s --location=%s --workload-metadata=GKE_METADATA`), or use --wi-mode none",
				cl.Name, cl.Location, cl.Project, identity.PoolFor(cl.Project), cl.Name, cl.Location)}
	}
	return pool, nil
}
