package queue

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"csclr.dev/csclr/pkg/stats"
)

// TestCountedRequestsLeftOutOfReport: a request the activator marked as
// counted is in flight in the report but not in its Requests, still in the
// Prometheus request count, and the user container never sees the mark.
func TestCountedRequestsLeftOutOfReport(t *testing.T) {
	entered, release := make(chan string, 3), make(chan struct{})
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- r.Header.Get(stats.CountedHeader)
		<-release
	}))
	url, p := startQueue(t, testConfig(user))

	done := make(chan int, 1)
	go func() {
		code, _, _ := get(t, url, http.Header{stats.CountedHeader: {stats.CountedHeaderValue}})
		done <- code
	}()
	if mark := <-entered; mark != "" {
		t.Errorf("the user container saw %s: %q, want it removed", stats.CountedHeader, mark)
	}
	if rep := p.Report.Report(); rep.InFlight != 1 || rep.Requests != 0 {
		t.Errorf("marked request in flight: InFlight %d Requests %d, want 1 and 0", rep.InFlight, rep.Requests)
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("marked request: status %d", code)
	}

	// Unmarked, and marked with another value (not the activator's): counted.
	get(t, url, nil)
	get(t, url, http.Header{stats.CountedHeader: {"0"}})
	if mark := <-entered + <-entered; mark != "" {
		t.Errorf("the user container saw %s: %q, want it removed", stats.CountedHeader, mark)
	}
	if rep := p.Report.Report(); rep.InFlight != 0 || rep.Requests != 2 {
		t.Errorf("after 3 requests, 1 marked: InFlight %d Requests %d, want 0 and 2", rep.InFlight, rep.Requests)
	}
	want := `csclr_queue_requests_total{code_class="2xx",configuration="",namespace="ns",revision="hello-00001",service=""} 3`
	if metrics := scrape(t, p.Metrics.Handler()); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q: the marked request is still a request the pod answered", want)
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}
