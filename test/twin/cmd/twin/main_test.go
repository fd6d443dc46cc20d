package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

func TestMain(m *testing.M) {
	twin.MainInNetNS()
	os.Exit(m.Run())
}

// buildTwin builds this command next to links to the control-plane binaries.
func buildTwin(t *testing.T) string {
	t.Helper()
	src := os.Getenv(twin.EnvBinDir)
	if src == "" {
		t.Fatalf("%s is not set; run hack/build-twin.sh (hack/ci-twin.sh sets it)", twin.EnvBinDir)
	}
	dir := t.TempDir()
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "gcpfake"} {
		target, err := filepath.Abs(filepath.Join(src, b))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, b)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "twin"), ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "twin")
}

func TestUpEnvDownLeavesNoProcess(t *testing.T) {
	bin := buildTwin(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	began := time.Now()
	out, err := exec.Command(bin, "up", "--state-dir", stateDir, "--kubeconfig-out", kc, "--gpu-nodes=1").CombinedOutput()
	if err != nil {
		t.Fatalf("twin up: %v\n%s", err, out)
	}
	t.Logf("twin up took %s", time.Since(began).Round(time.Millisecond))
	for _, want := range []string{"is up", "kubeconfig: " + kc, "kubectl get nodes", "twin down"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("twin up output lacks %q:\n%s", want, out)
		}
	}
	env, err := exec.Command(bin, "env", "--state-dir", stateDir).Output()
	if err != nil || !strings.Contains(string(env), "export KUBECONFIG=") {
		t.Errorf("twin env: %v\n%s", err, env)
	}
	nodes, err := exec.Command("kubectl", "--kubeconfig", kc, "get", "nodes", "-l", "cloud.google.com/gke-nodepool=gpu-pool", "-o", "name").CombinedOutput()
	if err != nil || strings.Count(string(nodes), "node/") != 1 {
		t.Errorf("kubectl get nodes: %v\n%s", err, nodes)
	}
	s, err := readState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	pids := append(children(s.PID), s.PID)
	if len(pids) < 6 {
		t.Errorf("twin run has %d processes, want itself and 5 children", len(pids))
	}
	if out, err := exec.Command(bin, "down", "--state-dir", stateDir).CombinedOutput(); err != nil {
		t.Fatalf("twin down: %v\n%s", err, out)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			t.Errorf("pid %d still runs after twin down", pid)
		}
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state dir %s left behind (%v)", stateDir, err)
	}
	if out, _ := exec.Command(bin, "env", "--state-dir", stateDir).CombinedOutput(); !strings.Contains(string(out), "no twin is up") {
		t.Errorf("twin env after down: %s", out)
	}
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	return strings.HasPrefix(rest, "Z")
}
