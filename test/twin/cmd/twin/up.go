package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func newUpCmd() *cobra.Command {
	f := &clusterFlags{}
	var stateDir, kubeconfigOut string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the twin in the background and print its kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return up(cmd.OutOrStdout(), f, stateDir, kubeconfigOut, timeout)
		},
	}
	f.addFlags(cmd.Flags())
	f.addDemoFlag(cmd.Flags())
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "where the running twin keeps its files (also $INFER_HPA_TWIN_STATE)")
	cmd.Flags().StringVar(&kubeconfigOut, "kubeconfig-out", "", "also copy the admin kubeconfig to this file")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the twin to be ready")
	return cmd
}

func up(out io.Writer, f *clusterFlags, stateDir, kubeconfigOut string, timeout time.Duration) error {
	if s, err := readState(stateDir); err == nil && alive(s.PID) {
		return fmt.Errorf("a twin is already up (pid %d, state in %s); run `twin down --state-dir %s` first", s.PID, stateDir, stateDir)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	_ = os.Remove(statePath(stateDir))
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(stateDir, "twin.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	child := exec.Command(exe, append([]string{"run", "--state-dir=" + stateDir}, f.args()...)...)
	child.Stdout, child.Stderr = logf, logf
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	deadline := time.After(timeout)
	for {
		if s, err := readState(stateDir); err == nil {
			if kubeconfigOut != "" {
				if err := copyFile(s.Kubeconfig, kubeconfigOut); err != nil {
					return err
				}
				s.Kubeconfig = kubeconfigOut
			}
			printUp(out, s, stateDir)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("twin exited before it was ready (%v); its log %s ends:\n%s", err, logPath, tailFile(logPath))
		case <-deadline:
			_ = child.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("twin not ready after %s; see %s", timeout, logPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printUp(out io.Writer, s *state, stateDir string) {
	if s.Demo {
		printDemo(out, s, stateDir)
		return
	}
	fmt.Fprintf(out, `twin %s is up (pid %d)
kubeconfig: %s

Try:
  export KUBECONFIG=%s
  kubectl get nodes -L cloud.google.com/gke-nodepool,cloud.google.com/gke-accelerator
  kubectl get crd | grep monitoring.googleapis.com
  kubectl create deployment hello --image=busybox && kubectl get pods -w

Stop it with: twin down --state-dir %s
`, s.Context, s.PID, s.Kubeconfig, s.Kubeconfig, stateDir)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }
