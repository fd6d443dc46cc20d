package gcpfake

import "fmt"

// MethodGetCluster is GKE's clusters.get.
const MethodGetCluster = "container.projects.locations.clusters.get"

type cluster struct {
	project, location, name string
	workloadIdentity        bool
}

// AddCluster creates a GKE cluster of a project (which must exist) at a
// location (a region or a zone). With Workload Identity on, clusters.get
// reports the project's workload identity pool (PROJECT_ID.svc.id.goog
// unless SetWorkloadPool changed it) in workloadIdentityConfig.workloadPool;
// off, the field is absent, as GKE answers for such a cluster.
func (s *Server) AddCluster(projectID, location, name string, workloadIdentity bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters[clusterKey(projectID, location, name)] = &cluster{projectID, location, name, workloadIdentity}
}

// SetWorkloadPool renames a project's workload identity pool (for a pool that
// is not simply PROJECT_ID.svc.id.goog); members must name the new one.
func (s *Server) SetWorkloadPool(projectID, pool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		p.pool = pool
	}
}

func clusterKey(project, location, name string) string {
	return project + "/" + location + "/" + name
}

// getCluster answers GET v1/projects/P/locations/L/clusters/C the way GKE
// does: the Cluster resource, 404 for a cluster a known project lacks, and
// 403 naming container.clusters.get for a project the caller cannot see.
func (s *Server) getCluster(project, location, name string) (any, *apiError) {
	resource := fmt.Sprintf("projects/%s/locations/%s/clusters/%s", project, location, name)
	p := s.project(project)
	if p == nil {
		e := errf(403, "PERMISSION_DENIED", fmt.Sprintf("Required %q permission(s) for %q.", "container.clusters.get", resource))
		e.Permission, e.Reason, e.Domain = "container.clusters.get", "IAM_PERMISSION_DENIED", "container.googleapis.com"
		return nil, e
	}
	c := s.clusters[clusterKey(p.id, location, name)]
	if c == nil {
		return nil, notFound(fmt.Sprintf("Not found: %s.", resource))
	}
	out := map[string]any{
		"name": c.name, "location": c.location, "status": "RUNNING",
		"endpoint": "10.128.0.2", "currentMasterVersion": "1.33.5-gke.1000000",
		"currentNodeVersion": "1.33.5-gke.1000000", "createTime": "2026-11-01T00:00:00+00:00",
		"id": fmt.Sprintf("%032x", len(s.clusters)*7919),
	}
	out["zone"] = c.location // the deprecated field, still sent
	if c.workloadIdentity && p.workloadIdentity {
		out["workloadIdentityConfig"] = map[string]string{"workloadPool": p.pool}
	}
	return out, nil
}
