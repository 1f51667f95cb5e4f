package queue

import (
	"net/http"

	"csclr.dev/csclr/pkg/deadline"
)

// Timeouts are the revision's request deadlines.
type Timeouts = deadline.Timeouts

// TimeoutsFor derives the deadlines from the config.
func TimeoutsFor(c Config) Timeouts {
	return deadline.For(c.Timeout, c.ResponseStartTimeout, c.IdleTimeout)
}

// enforceTimeouts is the chain step for the revision's timeouts, counted
// from the request's arrival at the pod (package deadline).
func enforceTimeouts(t Timeouts, clock Clock, next http.Handler) http.Handler {
	return deadline.Handler(t, clock, next)
}
