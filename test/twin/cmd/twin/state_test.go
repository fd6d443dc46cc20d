package main

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

// `twin up` hands its flags to the `twin run` it starts: args renders
// them back so that the child builds the same twin.Options.
func TestArgsRoundTrip(t *testing.T) {
	parse := func(args []string) *clusterFlags {
		t.Helper()
		f := &clusterFlags{}
		fs := pflag.NewFlagSet("twin", pflag.ContinueOnError)
		f.addFlags(fs)
		f.addDemoFlag(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := parse([]string{"--metrics", "--simulate", "--gpu-nodes=6", "--hpa-sync-period=2s", "--model-load-delay=1s",
		"--ingestion-delay=1s", "--adapter-backoff=2s", "--adapter-max-backoff=8s"})
	want, got := f.options(), parse(f.args()).options()
	if !reflect.DeepEqual(got.Metrics, want.Metrics) || got.Metrics.BackOff.String() != "2s" || got.Metrics.MaxBackOff.String() != "8s" {
		t.Errorf("metrics options after the round trip: %+v, want %+v", got.Metrics, want.Metrics)
	}
	if !reflect.DeepEqual(got.Simulate, want.Simulate) || got.GPUNodes != 6 || got.HPASyncPeriod != want.HPASyncPeriod || !got.GoogleAPI {
		t.Errorf("options after the round trip: %+v, want %+v", got, want)
	}
}
