package stats

import (
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestReporterIntegral(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReporter("ns/rev", "pod-1", clock.Now)

	clock.Advance(time.Second) // 0 in flight: adds nothing
	r.Begin()
	clock.Advance(2 * time.Second) // 1 in flight for 2s: 2
	r.Begin()
	clock.Advance(3 * time.Second) // 2 in flight for 3s: 6
	r.End()
	clock.Advance(500 * time.Millisecond) // 1 in flight for 0.5s: 0.5

	got := r.Report()
	want := Report{Revision: "ns/rev", Pod: "pod-1", StartUnix: 1000, InFlight: 1, Requests: 2, ConcurrencySeconds: 8.5}
	if got != want {
		t.Fatalf("Report() = %+v, want %+v", got, want)
	}

	// A second scrape without activity keeps integrating the one in flight.
	clock.Advance(time.Second)
	if got := r.Report().ConcurrencySeconds; got != 9.5 {
		t.Fatalf("ConcurrencySeconds after another second = %v, want 9.5", got)
	}
}

func TestReporterConcurrentUse(t *testing.T) {
	r := NewReporter("ns/rev", "pod", time.Now)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				r.Begin()
				_ = r.Report()
				r.End()
			}
		}()
	}
	wg.Wait()
	got := r.Report()
	if got.InFlight != 0 || got.Requests != 8000 {
		t.Fatalf("after 8000 requests: InFlight=%d Requests=%d, want 0 and 8000", got.InFlight, got.Requests)
	}
}

func TestHandlerServesJSON(t *testing.T) {
	clock := &fakeClock{t: time.Unix(50, 0)}
	r := NewReporter("ns/rev", "pod", clock.Now)
	r.Begin()
	clock.Advance(4 * time.Second)

	rec := httptest.NewRecorder()
	Handler(r).ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))

	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var got Report
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
	want := Report{Revision: "ns/rev", Pod: "pod", StartUnix: 50, InFlight: 1, Requests: 1, ConcurrencySeconds: 4}
	if got != want {
		t.Fatalf("served %+v, want %+v", got, want)
	}
}

// TestReporterBeginCounted: a request another source already counted is in
// flight and in the integral, but not in Requests.
func TestReporterBeginCounted(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReporter("ns/rev", "pod", clock.Now)
	r.BeginCounted()
	r.Begin()
	clock.Advance(time.Second)
	got := r.Report()
	if got.InFlight != 2 || got.Requests != 1 || got.ConcurrencySeconds != 2 {
		t.Fatalf("one counted and one new request for 1s: %+v; want InFlight 2, Requests 1, ConcurrencySeconds 2", got)
	}
	r.End()
	r.End()
	if n := r.InFlight(); n != 0 {
		t.Fatalf("InFlight after both ended = %d, want 0", n)
	}
}
