//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// load keeps workers sending requests through the gateway until stopped,
// bounded by time and by count, and records every answer.
type load struct {
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu        sync.Mutex
	statuses  map[int]int
	revisions map[string]int
	bodies    map[string]int
	failures  []string // the first few, for the report
	sent      int
}

// maxLoadRequests bounds a load run whatever its duration.
const maxLoadRequests = 200000

// startLoad starts workers sending GET path to c until stop, at most limit.
func startLoad(ctx context.Context, c *client, workers int, path string, limit time.Duration) *load {
	ctx, cancel := context.WithTimeout(ctx, limit)
	l := &load{cancel: cancel, statuses: map[int]int{}, revisions: map[string]int{}, bodies: map[string]int{}}
	for i := 0; i < workers; i++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for ctx.Err() == nil && l.next() {
				r, err := c.get(ctx, path)
				if ctx.Err() != nil {
					return // stopped mid-request: not an answer
				}
				l.record(r, err)
			}
		}()
	}
	return l
}

func (l *load) next() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	return l.sent <= maxLoadRequests
}

func (l *load) record(r response, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.statuses[-1]++
		l.fail(err.Error())
		return
	}
	l.statuses[r.status]++
	l.revisions[r.header.Get("X-Revision")]++
	l.bodies[strings.TrimSpace(r.body)]++
	if r.status != 200 {
		l.fail(fmt.Sprintf("%d %s", r.status, strings.TrimSpace(r.body)))
	}
}

func (l *load) fail(what string) {
	if len(l.failures) < 10 {
		l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+what)
	}
}

// stop ends the load and waits for the workers.
func (l *load) stop() {
	l.cancel()
	l.done.Wait()
}

// failed counts answers other than 200, transport errors included.
func (l *load) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for status, count := range l.statuses {
		if status != 200 {
			n += count
		}
	}
	return n
}

func (l *load) count(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[body]
}

func (l *load) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	for _, n := range l.statuses {
		total += n
	}
	revs := make([]string, 0, len(l.revisions))
	for r, n := range l.revisions {
		revs = append(revs, fmt.Sprintf("%s:%d", r, n))
	}
	sort.Strings(revs)
	s := fmt.Sprintf("%d answers, statuses %v, by revision %v", total, l.statuses, revs)
	if len(l.failures) > 0 {
		s += "; first failures:\n  " + strings.Join(l.failures, "\n  ")
	}
	return s
}

var errNotYet = fmt.Errorf("not yet")
