// Package loopback opens the simulators' listeners, on loopback only.
package loopback

import (
	"fmt"
	"net"
)

// Listen listens on addr after checking it is a loopback address
// (127.0.0.1:0 picks a free port).
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s is not a loopback address", addr)
	}
	return net.Listen("tcp", addr)
}
