package twin_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNoNonLoopbackPeers reads the TCP tables of every twin process (and of
// this test process) and fails on any connection whose ends are not loopback.
// In a private network namespace this holds by construction; outside one
// it proves the egress proxy kept everything on loopback.
// The file is named zz_ so that this test runs last; a sampler started in
// TestMain has also looked every 250 ms while the other tests ran.
func TestNoNonLoopbackPeers(t *testing.T) {
	leaks.sample()
	leaks.stop()
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	for _, v := range leaks.violations {
		t.Error(v)
	}
	if leaks.checked == 0 || leaks.samples < 2 {
		t.Fatalf("%d sockets in %d samples: the check checked nothing", leaks.checked, leaks.samples)
	}
	t.Logf("%d socket observations in %d samples of %d processes, all loopback", leaks.checked, leaks.samples, len(tw.PIDs())+1)
}

// leakSampler records every TCP socket of the twin's processes and of the
// test process whose ends are not loopback.
type leakSampler struct {
	mu               sync.Mutex
	checked, samples int
	violations       []string
	seen             map[string]bool
	done             chan struct{}
	once             sync.Once
}

var leaks = &leakSampler{seen: map[string]bool{}, done: make(chan struct{})}

func (l *leakSampler) start() {
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-tick.C:
				l.sample()
			}
		}
	}()
}

func (l *leakSampler) stop() { l.once.Do(func() { close(l.done) }) }

func (l *leakSampler) sample() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples++
	for _, pid := range append(tw.PIDs(), os.Getpid()) {
		inodes, err := socketInodes(pid)
		if err != nil {
			continue // exited between listing and reading
		}
		for _, table := range []string{"tcp", "tcp6"} {
			conns, err := tcpConns(fmt.Sprintf("/proc/%d/net/%s", pid, table))
			if err != nil {
				continue
			}
			for _, c := range conns {
				if !inodes[c.inode] {
					continue // another process's socket in the same namespace
				}
				l.checked++
				if !c.local.IsLoopback() && !c.local.IsUnspecified() || c.state != "0A" && !c.remote.IsLoopback() {
					v := fmt.Sprintf("pid %d: %s socket %s -> %s (state %s) is not loopback", pid, table, c.local, c.remote, c.state)
					if !l.seen[v] {
						l.seen[v] = true
						l.violations = append(l.violations, v)
					}
				}
			}
		}
	}
}

type tcpConn struct {
	local, remote net.IP
	state, inode  string
}

// socketInodes are the inodes of the sockets a process has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(dir + "/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return inodes, nil
}

// tcpConns parses /proc/PID/net/tcp{,6}.
func tcpConns(path string) ([]tcpConn, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []tcpConn
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		l, err1 := procIP(f[1])
		r, err2 := procIP(f[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		out = append(out, tcpConn{local: l, remote: r, state: f[3], inode: f[9]})
	}
	return out, nil
}

// procIP decodes "0100007F:1F90" (little-endian 32-bit words) to an IP.
func procIP(s string) (net.IP, error) {
	hexIP, _, ok := strings.Cut(s, ":")
	if !ok || len(hexIP)%8 != 0 {
		return nil, fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(hexIP)/2)
	for w := 0; w < len(hexIP)/8; w++ {
		var word uint32
		if _, err := fmt.Sscanf(hexIP[w*8:w*8+8], "%08X", &word); err != nil {
			return nil, err
		}
		ip[w*4], ip[w*4+1], ip[w*4+2], ip[w*4+3] = byte(word), byte(word>>8), byte(word>>16), byte(word>>24)
	}
	return ip, nil
}
