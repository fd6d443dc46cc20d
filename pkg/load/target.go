package load

import (
	"fmt"
	"net/url"
	"strings"
)

// URLTarget is one endpoint the user reaches already (--url).
type URLTarget struct{ E Endpoint }

// Pick returns the URL.
func (u URLTarget) Pick() (Endpoint, bool) { return u.E, true }

// ParseURL checks --url and returns its base (scheme://host[:port][/path]
// without the /v1 suffix a user may have copied).
func ParseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q is not an http(s) URL: give the server's base, e.g. --url http://127.0.0.1:8000", s)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), "/v1")
	return base, nil
}
