package queue

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
)

// ErrQueueFull is returned by Breaker.Acquire when both the container and the
// queue in front of it are full.
var ErrQueueFull = errors.New("container concurrency reached and the request queue is full")

// Breaker lets at most `slots` requests into the user container at once and
// holds at most `depth` more waiting for a slot; anything beyond is refused
// at once, so memory stays bounded whatever the load.
type Breaker struct {
	slots   chan struct{}
	pending atomic.Int64 // in the container + waiting
	limit   int64        // slots + depth
}

// NewBreaker returns a breaker with the given capacity; slots must be > 0
// (an unlimited container needs no breaker).
func NewBreaker(slots, depth int) *Breaker {
	return &Breaker{slots: make(chan struct{}, slots), limit: int64(slots + depth)}
}

// Acquire waits for a slot. It returns ErrQueueFull without waiting when the
// queue is full, and ctx's error when ctx ends first. After a nil error the
// caller must call Release exactly once.
func (b *Breaker) Acquire(ctx context.Context) error {
	if b.pending.Add(1) > b.limit {
		b.pending.Add(-1)
		return ErrQueueFull
	}
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		b.pending.Add(-1)
		return ctx.Err()
	}
}

// Release frees the slot taken by a successful Acquire.
func (b *Breaker) Release() {
	<-b.slots
	b.pending.Add(-1)
}

// InContainer is the number of requests holding a slot.
func (b *Breaker) InContainer() int { return len(b.slots) }

// Waiting is the number of requests queued for a slot.
func (b *Breaker) Waiting() int {
	return max(0, int(b.pending.Load())-len(b.slots))
}

// limitConcurrency is the chain step that enforces containerConcurrency.
func limitConcurrency(b *Breaker, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := b.Acquire(r.Context()); err != nil {
			if errors.Is(err, ErrQueueFull) {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "overloaded: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			// The caller left or the timeout fired while queued; the
			// timeout step has already answered in the latter case.
			http.Error(w, "request abandoned while queued: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer b.Release()
		next.ServeHTTP(w, r)
	})
}
