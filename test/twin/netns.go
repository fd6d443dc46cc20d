package twin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// EnvNetNS is set to "1" in a process that runs in the twin's own network
// namespace (only `lo`, brought up). Set it to "0" beforehand to opt out.
const EnvNetNS = "INFER_HPA_TWIN_NETNS"

// InOwnNetNS reports whether this process already runs in a twin network
// namespace.
func InOwnNetNS() bool { return os.Getenv(EnvNetNS) == "1" }

// CanUseNetNS reports whether a private network namespace can be made
// here: running as root and not opted out with INFER_HPA_TWIN_NETNS=0.
func CanUseNetNS() bool { return os.Geteuid() == 0 && os.Getenv(EnvNetNS) != "0" }

// RunInNetNS runs argv in a new network namespace whose only interface is
// `lo`, with stdio inherited, and returns its exit code. Inside, the program
// must call EnterNetNS first (the twin command and TestMain helpers do).
// Nothing in there can reach a non-loopback address: a stray dial fails at
// once instead of leaving the machine.
func RunInNetNS(argv []string, env []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(env, EnvNetNS+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("%w: %w", ErrNoNetNS, err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// ErrNoNetNS: a network namespace could not be made (root without
// CAP_SYS_ADMIN, say); callers fall back to the host's network.
var ErrNoNetNS = errors.New("cannot create a network namespace")

// EnterNetNS brings `lo` up when this process runs in a twin network
// namespace; elsewhere it does nothing.
func EnterNetNS() error {
	if !InOwnNetNS() {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// MainInNetNS is for TestMain: as root it re-runs the test binary in a
// private network namespace and exits with its code; inside (or when it
// can't) it returns and the tests run here.
func MainInNetNS() {
	if InOwnNetNS() {
		if err := EnterNetNS(); err != nil {
			fmt.Fprintln(os.Stderr, "twin:", err)
			os.Exit(1)
		}
		return
	}
	if !CanUseNetNS() {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin:", err)
		os.Exit(1)
	}
	code, err := RunInNetNS(append([]string{exe}, os.Args[1:]...), os.Environ())
	if errors.Is(err, ErrNoNetNS) {
		fmt.Fprintln(os.Stderr, "twin:", err, "- running on the host network, relying on the egress proxy")
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin:", err)
	}
	os.Exit(code)
}
