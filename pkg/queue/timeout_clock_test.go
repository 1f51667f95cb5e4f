package queue

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// manualClock's timers fire only when the test advances it.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c      *manualClock
	at     time.Time
	f      func()
	active bool
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f, active: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *manualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.at, t.active = t.c.now.Add(d), true
	return was
}

// Advance moves time on and runs the timers that came due, in order.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *manualTimer
		for _, t := range c.timers {
			if t.active && !t.at.After(c.now) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due != nil {
			due.active = false
		}
		c.mu.Unlock()
		if due == nil {
			return
		}
		due.f()
	}
}

// pending is when the one active timer will fire, or the zero time.
func (c *manualClock) pending() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if t.active {
			return t.at
		}
	}
	return time.Time{}
}

// serveAsync runs h on rec in a goroutine; the channel carries its panic.
func serveAsync(h http.Handler, rec http.ResponseWriter) chan any {
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	return done
}

func TestIdleTimeoutWithInjectedClock(t *testing.T) {
	t0 := time.Unix(1000, 0)

	t.Run("idle before the first byte: 504", func(t *testing.T) {
		clock := &manualClock{now: t0}
		h := enforceTimeouts(Timeouts{FirstByte: 10 * time.Second, Idle: time.Second}, clock,
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		rec := httptest.NewRecorder()
		done := serveAsync(h, rec)
		waitFor(t, func() bool { return !clock.pending().IsZero() }, "the timer")

		if at := clock.pending(); !at.Equal(t0.Add(time.Second)) {
			t.Fatalf("first check at %v, want after the idle timeout (1s)", at.Sub(t0))
		}
		clock.Advance(999 * time.Millisecond)
		select {
		case <-done:
			t.Fatal("request ended before the idle timeout")
		case <-time.After(20 * time.Millisecond):
		}
		clock.Advance(time.Millisecond)
		if p := <-done; p != nil {
			t.Fatalf("panic %v", p)
		}
		if rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("status %d, want 504", rec.Code)
		}
	})

	t.Run("bytes keep a stream alive; silence cuts it", func(t *testing.T) {
		clock := &manualClock{now: t0}
		write := make(chan struct{})
		h := enforceTimeouts(Timeouts{FirstByte: 10 * time.Second, Idle: time.Second}, clock,
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for {
					select {
					case <-write:
						w.Write([]byte("x"))
						write <- struct{}{}
					case <-r.Context().Done():
						panic(http.ErrAbortHandler) // what the proxy does when its copy is cancelled
					}
				}
			}))
		rec := httptest.NewRecorder()
		done := serveAsync(h, rec)
		waitFor(t, func() bool { return !clock.pending().IsZero() }, "the timer")

		step := func() { write <- struct{}{}; <-write }
		step() // first byte at 0s
		clock.Advance(900 * time.Millisecond)
		step()                                // another at 0.9s
		clock.Advance(600 * time.Millisecond) // 1.5s: the check at 1s moves to 1.9s
		if at := clock.pending(); !at.Equal(t0.Add(1900 * time.Millisecond)) {
			t.Fatalf("next idle check at %v, want 1.9s", at.Sub(t0))
		}
		clock.Advance(400 * time.Millisecond)
		if p := <-done; p != http.ErrAbortHandler {
			t.Fatalf("idle stream ended with %v, want the http.ErrAbortHandler panic that cuts it", p)
		}
		if rec.Code != http.StatusOK || rec.Body.String() != "xx" {
			t.Fatalf("got %d %q before the cut, want 200 \"xx\"", rec.Code, rec.Body.String())
		}
	})
}
