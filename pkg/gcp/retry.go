package gcp

import (
	"context"
	"errors"
	"fmt"
	"time"

	gax "github.com/googleapis/gax-go/v2"
)

// do calls fn until it succeeds, fails with an error retryable does not
// accept, or the sleep budget is spent; then the last error is returned as
// a KindGaveUp *Error naming what.
func (r Retry) do(ctx context.Context, what string, fn func() error, retryable func(error) bool) error {
	def := DefaultRetry()
	bo := gax.Backoff{Initial: orDur(r.Initial, def.Initial), Max: orDur(r.Max, def.Max), Multiplier: r.Multiplier}
	if bo.Multiplier < 1 {
		bo.Multiplier = def.Multiplier
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var slept time.Duration
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		d := bo.Pause()
		if slept+d > orDur(r.Budget, def.Budget) {
			if e := (*Error)(nil); errors.As(err, &e) && e.Kind != KindAPI {
				return err // already says what is wrong and what to do
			}
			return &Error{Kind: KindGaveUp, Op: what, Err: err,
				Fix: fmt.Sprintf("gave up after %d attempts over %s; something else keeps changing it or the API is throttling: run again later", attempt, slept.Round(time.Millisecond))}
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		slept += d
	}
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
