package activator

import (
	"fmt"
	"net/http"
	"time"

	"k8s.io/utils/clock"

	"csclr.dev/csclr/pkg/deadline"
)

// admit finds the request's revision state (created on first use, which
// may ask the API server), keeps it from Sweep while the request is here,
// and applies the revision's timeouts to the rest of the request, counted
// from its arrival (package deadline). The wait for a pod counts against
// them, as in Knative's activator: the queue sidecar starts its own clocks
// only when the request reaches the pod, so without this a caller could
// wait timeoutSeconds for a pod and then timeoutSeconds again for the
// answer.
func admit(b *Balancer, clk clock.WithDelayedExecution, next http.Handler) http.Handler {
	timers := delayedClock{clk}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r.Context())
		s := b.use(x.target.Revision)
		defer s.leave()
		x.rev = s
		deadline.Serve(w, r, s.timeouts(), timers, x.start, func(w http.ResponseWriter, _ string) {
			x.status = 0 // the inner steps took the cancellation for a client that left
			deadline.PlainGatewayTimeout(w, fmt.Sprintf("revision %s: no response started within the revision's timeout", x.target.Revision))
		}, next)
	})
}

// delayedClock is the activator's clock as package deadline takes it.
type delayedClock struct{ clock.WithDelayedExecution }

func (c delayedClock) AfterFunc(d time.Duration, f func()) deadline.Timer {
	return c.WithDelayedExecution.AfterFunc(d, f)
}
