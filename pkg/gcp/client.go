package gcp

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2/google"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	container "google.golang.org/api/container/v1"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
)

// The environment variables gcloud users set to point gcloud at other
// endpoints; NewClient honours them too (see OptionsFromEnv).
const (
	EnvIAMEndpoint         = "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM"
	EnvCRMEndpoint         = "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER"
	EnvContainerEndpoint   = "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER"
	EnvDisableCredentials  = "CLOUDSDK_AUTH_DISABLE_CREDENTIALS"
	cloudPlatformScope     = "https://www.googleapis.com/auth/cloud-platform"
	defaultConsistentReads = 3
)

// Options configures NewClient.
type Options struct {
	// IAMEndpoint, CRMEndpoint and ContainerEndpoint (GKE's API) replace
	// Google's endpoints (e.g. the local server, "http://127.0.0.1:PORT/"),
	// in gcloud's api_endpoint_overrides form; empty means Google's.
	IAMEndpoint       string
	CRMEndpoint       string
	ContainerEndpoint string
	// Anonymous sends no credentials. It is implied for plain-http endpoints
	// so that a token never travels unencrypted.
	Anonymous bool
	// Extra options are passed to both API clients after ours (for example
	// option.WithHTTPClient, option.WithQuotaProject).
	Extra []option.ClientOption
}

// OptionsFromEnv reads the gcloud endpoint overrides
// CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM,
// CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER and
// CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER, and
// CLOUDSDK_AUTH_DISABLE_CREDENTIALS. getenv is os.Getenv when nil.
func OptionsFromEnv(getenv func(string) string) Options {
	if getenv == nil {
		getenv = os.Getenv
	}
	disabled := strings.ToLower(getenv(EnvDisableCredentials))
	return Options{
		IAMEndpoint:       getenv(EnvIAMEndpoint),
		CRMEndpoint:       getenv(EnvCRMEndpoint),
		ContainerEndpoint: getenv(EnvContainerEndpoint),
		Anonymous:         disabled == "true" || disabled == "1",
	}
}

// Client calls IAM, Cloud Resource Manager and GKE. Its Retry and Wait fields may
// be changed before use (tests make them instant).
type Client struct {
	iam       *iam.Service
	crm       *crm.Service
	container *container.Service
	// Retry bounds the retries of 409/412/429/5xx answers.
	Retry Retry
	// Wait bounds the wait for a new service account to become readable.
	Wait Wait
}

// NewClient builds the clients. Without Anonymous it uses Application
// Default Credentials and fails with a KindNoCredentials *Error when there
// are none.
func NewClient(ctx context.Context, o Options) (*Client, error) {
	base, err := baseOptions(ctx, o.Anonymous, "or use --wi-mode none and grant the adapter roles/monitoring.viewer yourself", o.IAMEndpoint, o.CRMEndpoint, o.ContainerEndpoint)
	if err != nil {
		return nil, err
	}
	iamSvc, err := iam.NewService(ctx, withEndpoint(base, o.IAMEndpoint, o.Extra)...)
	if err != nil {
		return nil, fmt.Errorf("IAM client: %w", err)
	}
	crmSvc, err := crm.NewService(ctx, withEndpoint(base, o.CRMEndpoint, o.Extra)...)
	if err != nil {
		return nil, fmt.Errorf("Cloud Resource Manager client: %w", err)
	}
	gkeSvc, err := container.NewService(ctx, withEndpoint(base, o.ContainerEndpoint, o.Extra)...)
	if err != nil {
		return nil, fmt.Errorf("GKE client: %w", err)
	}
	return &Client{iam: iamSvc, crm: crmSvc, container: gkeSvc, Retry: DefaultRetry(), Wait: DefaultWait()}, nil
}

// baseOptions are the options every Google client of ours starts from:
// our user agent and Application Default Credentials, or none when
// anonymous or when an endpoint is plain http. orElse ends the fix of a
// KindNoCredentials error.
func baseOptions(ctx context.Context, anonymous bool, orElse string, endpoints ...string) ([]option.ClientOption, error) {
	base := []option.ClientOption{option.WithUserAgent("kubectl-infer-hpa")}
	if anonymous || slices.ContainsFunc(endpoints, isPlainHTTP) {
		return append(base, option.WithoutAuthentication()), nil
	}
	creds, err := google.FindDefaultCredentials(ctx, cloudPlatformScope)
	if err != nil {
		return nil, &Error{Kind: KindNoCredentials, Op: "find Google credentials", Err: err,
			Fix: "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS), " + orElse}
	}
	return append(base, option.WithCredentials(creds)), nil
}

func withEndpoint(base []option.ClientOption, endpoint string, extra []option.ClientOption) []option.ClientOption {
	opts := append([]option.ClientOption{}, base...)
	if endpoint != "" {
		// gcloud's overrides may carry the version ("…/v1/"); the Go
		// clients add it themselves.
		endpoint = strings.TrimSuffix(strings.TrimSuffix(endpoint, "/"), "/v1") + "/"
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	return append(opts, extra...)
}

func isPlainHTTP(endpoint string) bool { return strings.HasPrefix(endpoint, "http://") }

// Retry is the exponential backoff for answers that mean "try again"
// (409 ABORTED, 412, 429, 5xx, and "… does not exist" right after a create).
type Retry struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	// Budget bounds the total time slept before giving up.
	Budget time.Duration
	// Sleep waits d or until ctx ends; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetry: 1 s doubling to 8 s, giving up after ≈30 s of waiting.
func DefaultRetry() Retry {
	return Retry{Initial: time.Second, Max: 8 * time.Second, Multiplier: 2, Budget: 30 * time.Second}
}

// Wait is how a new service account is awaited: Reads consecutive
// successful reads, Interval apart, within Budget of waiting.
type Wait struct {
	Reads    int
	Interval time.Duration
	Budget   time.Duration
	Sleep    func(ctx context.Context, d time.Duration) error
}

// DefaultWait: three consecutive good reads a second apart, at most 60 s.
func DefaultWait() Wait {
	return Wait{Reads: defaultConsistentReads, Interval: time.Second, Budget: 60 * time.Second}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// statusOf returns the HTTP status of a Google API error, 0 for others.
func statusOf(err error) int {
	if ge := asGoogle(err); ge != nil {
		return ge.Code
	}
	return 0
}
