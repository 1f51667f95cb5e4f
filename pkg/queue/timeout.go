package queue

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Timeouts are the revision's request deadlines.
type Timeouts struct {
	// FirstByte: a response must have started by then, or the caller gets a
	// 504 (min of timeoutSeconds and responseStartTimeoutSeconds).
	FirstByte time.Duration
	// Idle: no bytes for this long ends the request (504 before the response
	// started, an aborted response after). 0 = none.
	Idle time.Duration
}

// TimeoutsFor derives the deadlines from the config.
func TimeoutsFor(c Config) Timeouts {
	t := Timeouts{FirstByte: c.Timeout, Idle: c.IdleTimeout}
	if c.ResponseStartTimeout > 0 && c.ResponseStartTimeout < t.FirstByte {
		t.FirstByte = c.ResponseStartTimeout
	}
	return t
}

// The life of a response under enforceTimeouts. Exactly one of the handler
// (starting the response) and the timer (timing it out) wins the move out
// of waiting; that compare-and-swap is the whole synchronisation.
const (
	waiting       int32 = iota // nothing sent yet
	started                    // status line committed; only idleness can end it
	timedOutStart              // no response in time: the 504 is sent by finish
	timedOutIdle               // no bytes in time before the start: 504
	abortedIdle                // no bytes in time after the start: cut
	hijacked                   // a WebSocket took the connection; no timeouts
	finished                   // the handler returned
)

// enforceTimeouts is the chain step for the revision's timeouts. It runs the
// rest of the chain on the serving goroutine and checks deadlines from one
// timer. The timer never writes: it flips the state and cancels the request
// context, and the serving goroutine writes the 504 once the inner steps
// (which all stop on cancellation) have returned. So the handler's header
// map and the connection are only ever touched by one goroutine at a time,
// and no per-request header copy is needed. Once a response has started it
// is never cut for being slow overall, only for being idle.
func enforceTimeouts(t Timeouts, clock Clock, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		now := clock.Now()
		tw := &timeoutWriter{
			ResponseWriter: w, clock: clock, cancel: cancel,
			firstByteBy: now.Add(t.FirstByte), idle: t.Idle,
		}
		tw.lastByte.Store(now.UnixNano())
		first := t.FirstByte
		if t.Idle > 0 {
			first = min(first, t.Idle)
		}
		tw.timer = clock.AfterFunc(first, tw.onTimer)
		defer tw.finish()
		next.ServeHTTP(tw, r.WithContext(ctx))
	})
}

type timeoutWriter struct {
	http.ResponseWriter // Header() is the real map: only the handler uses it until finish
	clock               Clock
	cancel              context.CancelFunc
	firstByteBy         time.Time
	idle                time.Duration
	timer               Timer

	state    atomic.Int32
	lastByte atomic.Int64 // unix nanos of the request start, then of the last write
}

// start moves waiting → started; false means a timeout won.
func (tw *timeoutWriter) start() bool {
	for {
		switch tw.state.Load() {
		case started:
			return true
		case waiting:
			if tw.state.CompareAndSwap(waiting, started) {
				return true
			}
		default:
			return false
		}
	}
}

func (tw *timeoutWriter) touch() {
	if tw.idle > 0 {
		tw.lastByte.Store(tw.clock.Now().UnixNano())
	}
}

func (tw *timeoutWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational: the final response (maybe our 504) follows.
		if tw.state.Load() == waiting {
			tw.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if tw.state.Load() != waiting {
		return
	}
	tw.touch()
	if tw.start() {
		tw.ResponseWriter.WriteHeader(code)
	}
}

func (tw *timeoutWriter) Write(p []byte) (int, error) {
	tw.touch()
	if !tw.start() {
		return 0, http.ErrHandlerTimeout
	}
	return tw.ResponseWriter.Write(p)
}

func (tw *timeoutWriter) FlushError() error {
	if !tw.start() {
		return http.ErrHandlerTimeout
	}
	return http.NewResponseController(tw.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket upgrades); the revision's
// timeouts do not apply to what follows.
func (tw *timeoutWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !tw.state.CompareAndSwap(waiting, hijacked) {
		return nil, nil, http.ErrHandlerTimeout
	}
	return http.NewResponseController(tw.ResponseWriter).Hijack()
}

// Unwrap gives http.ResponseController the rest (deadlines, full duplex).
func (tw *timeoutWriter) Unwrap() http.ResponseWriter { return tw.ResponseWriter }

// onTimer runs on the timer's goroutine; one run at a time, since the next
// is only scheduled at its end.
func (tw *timeoutWriter) onTimer() {
	now := tw.clock.Now()
	if tw.state.Load() == waiting {
		idleOver, idleLeft := tw.idleness(now)
		firstByteLeft := tw.firstByteBy.Sub(now)
		switch {
		case firstByteLeft <= 0:
			if tw.expire(waiting, timedOutStart) {
				return
			}
		case idleOver:
			if tw.expire(waiting, timedOutIdle) {
				return
			}
		default: // woke early
			if tw.idle > 0 {
				firstByteLeft = min(firstByteLeft, idleLeft)
			}
			tw.timer.Reset(firstByteLeft)
			return
		}
	}
	// Only a started response is still watched, and only for idleness. The
	// writer stamps lastByte before starting, so this reading is fresh.
	if tw.state.Load() != started || tw.idle <= 0 {
		return
	}
	if idleOver, idleLeft := tw.idleness(now); !idleOver {
		tw.timer.Reset(idleLeft)
	} else {
		tw.expire(started, abortedIdle)
	}
}

func (tw *timeoutWriter) idleness(now time.Time) (over bool, left time.Duration) {
	if tw.idle <= 0 {
		return false, 0
	}
	left = time.Unix(0, tw.lastByte.Load()).Add(tw.idle).Sub(now)
	return left <= 0, left
}

func (tw *timeoutWriter) expire(from, to int32) bool {
	if tw.state.CompareAndSwap(from, to) {
		tw.cancel()
		return true
	}
	return false
}

// finish runs on the serving goroutine when the handler returns or panics:
// it settles the state for good, then sends the 504 or cuts the response.
func (tw *timeoutWriter) finish() {
	tw.timer.Stop()
	final := tw.state.Swap(finished)
	tw.cancel()

	if p := recover(); p != nil {
		// The proxy panics with ErrAbortHandler when its copy fails because
		// we cancelled it; after a timeout we still owe the caller a 504.
		if p != http.ErrAbortHandler || (final != timedOutStart && final != timedOutIdle) {
			panic(p)
		}
	}
	switch final {
	case timedOutStart:
		tw.gatewayTimeout("no response started in time")
	case timedOutIdle:
		tw.gatewayTimeout("no bytes from the container within the idle timeout")
	case abortedIdle:
		panic(http.ErrAbortHandler)
	}
}

func (tw *timeoutWriter) gatewayTimeout(why string) {
	h := tw.ResponseWriter.Header()
	clear(h) // whatever the abandoned inner steps put there
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	tw.ResponseWriter.WriteHeader(http.StatusGatewayTimeout)
	fmt.Fprintf(tw.ResponseWriter, "gateway timeout: %s\n", why)
}
