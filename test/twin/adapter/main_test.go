package adapter_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/adapter"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// The pipeline every test here shares: a twin with a short HPA sync period,
// the Managed Prometheus emulation, the local Google API server (the
// gcpfake command) and the stand-in adapter behind the plugin's own adapter
// manifests (embedded/library/adapter, applied with kubectl apply -k).
var (
	tw      *twin.Twin
	col     *gmp.Collector
	ad      *adapter.Adapter
	gcpURL  string
	repo    string // repository root
	project = struct {
		id     string
		number string
	}{"twin-project", "123456789012"}
)

func TestMain(m *testing.M) {
	twin.MainInNetNS()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	if repo, err = filepath.Abs("../../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stopFake, err := startGCPFake(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcpfake:", err)
		return 1
	}
	defer stopFake()
	tw, err = twin.Start(ctx, twin.Options{Log: os.Stderr, HPASyncPeriod: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin: start:", err)
		return 1
	}
	defer tw.Stop()
	pipelineLog, _ := os.Create(filepath.Join(tw.Dir, "logs", "pipeline.log"))
	defer pipelineLog.Close()
	col, err = gmp.Start(ctx, tw.Config, gmp.Options{
		Project: tw.Options.Project, Location: tw.Options.Location, Cluster: tw.Options.Cluster,
		IngestionDelay: time.Second, Resolve: tw.PodTarget, Log: pipelineLog,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gmp:", err)
		return 1
	}
	defer col.Stop()
	ad, err = adapter.Start(ctx, tw, adapter.Options{
		Project: tw.Options.Project, Location: tw.Options.Location, Cluster: tw.Options.Cluster,
		Store: col.Store, Identity: adapter.GCPFakeURL(gcpURL), Window: 8 * time.Second, RateWindow: 8 * time.Second,
		Log: pipelineLog,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "adapter:", err)
		return 1
	}
	defer ad.Stop()
	code := m.Run()
	if code != 0 {
		for _, c := range []string{"kube-controller-manager", "egress-proxy", "pipeline"} {
			fmt.Fprintf(os.Stderr, "--- %s log (tail)\n%s\n", c, tw.Logs(c, 30))
		}
	}
	return code
}

// startGCPFake runs the gcpfake command ($INFER_HPA_TWIN_BIN/gcpfake, else
// built from the plugin's module) with the twin's project.
func startGCPFake(ctx context.Context) (func(), error) {
	bin := filepath.Join(os.Getenv(twin.EnvBinDir), "gcpfake")
	if _, err := os.Stat(bin); os.Getenv(twin.EnvBinDir) == "" || err != nil {
		dir, err := os.MkdirTemp("", "gcpfake-")
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(dir, "gcpfake")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./test/gcpfake/cmd/gcpfake")
		build.Dir = repo
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build gcpfake: %v: %s", err, out)
		}
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-project", project.id+"="+project.number)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("no URL from gcpfake: %v", err)
	}
	gcpURL = strings.TrimSpace(line)
	return func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}
