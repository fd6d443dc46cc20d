package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GCPFakeURL asks a local Google API server (test/gcpfake, run by its
// command or in-process) over its debug API, GET /_gcpfake/v1/identity.
type GCPFakeURL string

// IdentityHasRole implements IdentityChecker.
func (u GCPFakeURL) IdentityHasRole(ctx context.Context, project, namespace, ksa, gsa, role string) (string, error) {
	q := url.Values{"project": {project}, "namespace": {namespace}, "ksa": {ksa}, "gsa": {gsa}, "role": {role}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(string(u), "/")+"/_gcpfake/v1/identity?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("local Google API server: %s", resp.Status)
	}
	var out struct {
		Granted bool   `json:"granted"`
		Via     string `json:"via"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if !out.Granted {
		return "", nil
	}
	return out.Via, nil
}
