// Package gcp gives the custom-metrics Stackdriver adapter its Google
// identity (Workload Identity) through the IAM v1 and Cloud Resource Manager
// v1 APIs, safely and idempotently: read-modify-write of policies with the
// etag and policy version 3, only our member added to (or removed from) our
// role, retries with bounded backoff, and errors that say what to do.
//
// It is cobra-free: the setup, render and cleanup commands build an
// identity.Config, check it with its Validate (or identity's single-field
// validators), then call Ensure, Remove or GcloudCommands.
package gcp

// The roles each Workload Identity mode grants, and the marks of the Google
// service account this tool creates.
const (
	// RoleMonitoringViewer lets the adapter read Cloud Monitoring.
	RoleMonitoringViewer = "roles/monitoring.viewer"
	// RoleWorkloadIdentityUser lets a KSA impersonate a GSA.
	RoleWorkloadIdentityUser = "roles/iam.workloadIdentityUser"

	// createdByMarker in a GSA's description marks it as created by this
	// tool; cleanup deletes only such accounts.
	createdByMarker = "[managed-by=kubectl-infer-hpa]"
	gsaDisplayName  = "Custom metrics Stackdriver adapter"
	gsaDescription  = "Reads Cloud Monitoring for the custom-metrics Stackdriver adapter. " + createdByMarker
)
