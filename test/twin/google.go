package twin

import (
	"strconv"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/cloudmonitoring"
)

// DefaultProjectNumber is the number of the twin's project in the local
// Google API server unless Options.ProjectNumber says otherwise.
const DefaultProjectNumber = 123456789012

// startGoogleAPI runs the local IAM + Cloud Resource Manager stand-in
// (test/gcpfake, built next to the other binaries) on a loopback port when
// Options.GoogleAPI is set, with the twin's project (Workload Identity on)
// and its cluster (for GKE's clusters.get).
// It runs as its own process rather than in this one: importing the
// plugin's module would pull its newer dependency versions into the
// twin's build of Kubernetes.
func (t *Twin) startGoogleAPI(logDir string) error {
	if !t.Options.GoogleAPI {
		return nil
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	if err := t.run(logDir, "gcpfake", "-listen", addr,
		"-project", t.Options.Project+"="+strconv.FormatInt(t.Options.ProjectNumber, 10),
		"-cluster", t.Options.Project+"/"+t.Options.Location+"/"+t.Options.Cluster); err != nil {
		return err
	}
	t.GoogleURL = "http://" + addr + "/"
	if err := waitFor("local Google API server", 20*time.Second, t.procs, func() error {
		return httpOK(t.GoogleURL + "_gcpfake/v1/calls")
	}); err != nil {
		return err
	}
	t.logf("local Google API server (IAM, Cloud Resource Manager) on %s, project %s (%d)", t.GoogleURL, t.Options.Project, t.Options.ProjectNumber)
	return nil
}

// GoogleEnv is the environment that points the plugin and gcloud at the
// local Google API server, and at the local Cloud Monitoring when the
// metrics pipeline runs (empty without Options.GoogleAPI).
func (t *Twin) GoogleEnv() []string {
	if t.GoogleURL == "" {
		return nil
	}
	env := []string{
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=" + t.GoogleURL,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER=" + t.GoogleURL,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=" + t.GoogleURL,
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_PROJECT=" + t.Options.Project,
	}
	if t.Metrics != nil {
		env = append(env, cloudmonitoring.EnvEndpoint+"="+t.Metrics.MonitoringURL)
	}
	return env
}
