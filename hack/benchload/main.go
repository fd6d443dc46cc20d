// Command benchload is the benchmark's two helpers (hack/bench-load.sh):
// `benchload serve` runs the trivial loopback OpenAI server the load
// generator is measured against, and `benchload baseline` is what a user
// would otherwise write: a plain net/http loop that posts the same
// streaming request and reads the body to its end, timing each request
// but parsing nothing.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load/loadtest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchload serve [-addr-file F] | baseline -url URL -c N -d DUR -tokens N")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "baseline":
		err = baseline(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addrFile := fs.String("addr-file", "", "write the server's URL here")
	_ = fs.Parse(args)
	s := &loadtest.Server{FlushEach: true}
	if err := s.Start(); err != nil {
		return err
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(s.URL()), 0o644); err != nil {
			return err
		}
	}
	fmt.Println(s.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	return s.Close()
}

func baseline(args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ExitOnError)
	url := fs.String("url", "", "server base URL")
	c := fs.Int("c", 32, "concurrent clients")
	d := fs.Duration("d", 10*time.Second, "duration")
	tokens := fs.Int("tokens", 8, "max_tokens")
	_ = fs.Parse(args)
	body, _ := json.Marshal(map[string]any{"model": "fake-model", "prompt": "the cat sat one mat.", "max_tokens": *tokens, "stream": true})
	hc := load.NewHTTPClient(*c)
	ctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	began := time.Now()
	for range *c {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, *url+"/v1/completions", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					bad++
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(began)
	slices.Sort(lat)
	p := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(q*float64(len(lat)-1))]
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"requests": len(lat), "errors": errs, "requestsPerSecond": float64(len(lat)) / el.Seconds(),
		"e2eP50Seconds": p(0.5).Seconds(), "e2eP90Seconds": p(0.9).Seconds(), "e2eP99Seconds": p(0.99).Seconds(),
	})
}
