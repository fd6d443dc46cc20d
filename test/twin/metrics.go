package twin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/adapterpod"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/cloudmonitoring"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/googleauth"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/metadataserver"
)

// AdapterBinary is the real custom-metrics-stackdriver-adapter in BinDir
// (hack/build-adapter.sh builds it; hack/build-twin.sh links it there).
const AdapterBinary = "custom-metrics-stackdriver-adapter"

// MetricsOptions shape the metrics pipeline: the Managed Prometheus
// emulation (package gmp), the local Cloud Monitoring API it feeds
// (package cloudmonitoring), and the real adapter run for every adapter pod
// (package adapterpod) with a GKE metadata server each (package
// metadataserver). See docs/twin.md.
type MetricsOptions struct {
	// IngestionDelay: a point becomes queryable this long after it was
	// scraped or recorded (Cloud Monitoring's lag).
	IngestionDelay time.Duration
	// BackOff and MaxBackOff override the adapter container's restart
	// back-off (a kubelet's 10s doubling to 5m).
	BackOff, MaxBackOff time.Duration
}

// Metrics is the running pipeline.
type Metrics struct {
	GMP *gmp.Collector
	// MonitoringURL is the local Cloud Monitoring API, "http://127.0.0.1:PORT/".
	MonitoringURL string
	// Tokens are the access tokens the metadata servers handed out.
	Tokens   *googleauth.Tokens
	Adapters *adapterpod.Supervisor
	srv      *http.Server
	log      *os.File
}

// Stop ends the adapters, Cloud Monitoring and the collector.
func (m *Metrics) Stop() {
	if m.Adapters != nil {
		m.Adapters.Stop()
	}
	if m.srv != nil {
		_ = m.srv.Close()
	}
	m.GMP.Stop()
	m.log.Close()
}

// startMetrics starts the metrics pipeline when Options.Metrics is set.
// Identities are checked against the local Google API server, so
// Options.GoogleAPI is required. It logs to logs/metrics.log.
func (t *Twin) startMetrics(ctx context.Context, logDir string) error {
	o := t.Options.Metrics
	if o == nil {
		return nil
	}
	if t.GoogleURL == "" {
		return errors.New("twin: the metrics pipeline needs the local Google API server (Options.GoogleAPI)")
	}
	f, err := os.OpenFile(filepath.Join(logDir, "metrics.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	m := &Metrics{log: f, Tokens: googleauth.NewTokens()}
	ctx = context.WithoutCancel(ctx) // the pipeline lives until Stop, not until Start's deadline
	m.GMP, err = gmp.Start(ctx, t.Config, gmp.Options{
		Project: t.Options.Project, Location: t.Options.Location, Cluster: t.Options.Cluster,
		IngestionDelay: o.IngestionDelay, Resolve: t.PodTarget, Log: f,
	})
	if err != nil {
		f.Close()
		return fmt.Errorf("managed prometheus: %w", err)
	}
	policies := &googleauth.Policies{BaseURL: t.GoogleURL}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Stop()
		return err
	}
	m.MonitoringURL = "http://" + ln.Addr().String() + "/"
	m.srv = &http.Server{Handler: &cloudmonitoring.Server{Store: m.GMP.Store, Tokens: m.Tokens, Policies: policies, Log: f},
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	podsDir := filepath.Join(t.Dir, "pods")
	if err := os.MkdirAll(podsDir, 0o755); err != nil {
		m.Stop()
		return err
	}
	m.Adapters, err = adapterpod.Start(ctx, adapterpod.Host{
		Client: t.Client, Config: t.Config, ForwardPodPort: t.ForwardPodPort, PodLogFiles: t.PodLogFiles,
	}, adapterpod.Options{
		Binary: filepath.Join(t.Options.BinDir, AdapterBinary), Dir: podsDir, MonitoringURL: m.MonitoringURL,
		BackOff: o.BackOff, MaxBackOff: o.MaxBackOff, Log: f,
		Metadata: &metadataserver.Cluster{Project: t.Options.Project, ProjectNumber: t.Options.ProjectNumber,
			Cluster: t.Options.Cluster, Location: t.Options.Location, Zone: t.Options.Zone,
			Tokens: m.Tokens, Policies: policies},
	})
	if err != nil {
		m.Stop()
		return fmt.Errorf("adapter pods: %w", err)
	}
	t.Metrics = m
	t.logf("metrics pipeline: Managed Prometheus emulation (ingestion delay %s), Cloud Monitoring on %s, the real adapter for every adapter pod", o.IngestionDelay, m.MonitoringURL)
	return nil
}
