package activator

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/stats"
)

// markEcho is a pod that answers with the counted mark it received.
func markEcho(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("mark=" + r.Header.Get(stats.CountedHeader)))
}

// getMarked sends a request for rev1 carrying a client's copy of the mark.
func getMarked(t *testing.T, f *fixture) (int, string) {
	t.Helper()
	req := mustReq(f.front.URL, "hello.ns.example.com")
	req.Header.Set(stats.CountedHeader, stats.CountedHeaderValue)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET: %v", err)
		return 0, ""
	}
	defer resp.Body.Close()
	var b [64]byte
	n, _ := resp.Body.Read(b[:])
	return resp.StatusCode, string(b[:n])
}

// activatorRequests is rev1's Requests in this activator's report.
func activatorRequests(f *fixture) uint64 {
	for _, r := range f.bal.Reports("act") {
		if r.Revision == rev1.String() {
			return r.Requests
		}
	}
	return 0
}

// awaitCold waits for the chain's cold signal for rev1.
func awaitCold(t *testing.T, f *fixture) {
	t.Helper()
	select {
	case <-f.colds:
	case <-time.After(5 * time.Second):
		t.Fatal("no cold signal")
	}
}

// TestCountedMarkOnlyOnHeldRequests: a warm request reaches the pod without
// the mark, the client's copy removed; a held one (counted in the report)
// carries it.
func TestCountedMarkOnlyOnHeldRequests(t *testing.T) {
	pod := startPod(t, http.HandlerFunc(markEcho))
	f := newFixture(t, pod, fakeRevisions{}, 10)

	done := make(chan string, 1)
	go func() { _, body := getMarked(t, f); done <- body }()
	awaitCold(t, f)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	f.bal.PodsChanged(rev1)
	if body := <-done; body != "mark=1" {
		t.Errorf("held request: pod got %q, want mark=1", body)
	}

	if code, body := getMarked(t, f); code != http.StatusOK || body != "mark=" {
		t.Errorf("warm request with a client's mark: %d %q, want 200 and no mark", code, body)
	}
	if n := activatorRequests(f); n != 1 {
		t.Errorf("activator report: %d requests, want 1 (the held one)", n)
	}
}

// TestCountedMarkAcrossRetries: a held request whose pod cannot be dialled
// is retried, waits again, and reaches the next pod marked, counted once.
func TestCountedMarkAcrossRetries(t *testing.T) {
	pod := startPod(t, http.HandlerFunc(markEcho))
	f := newFixture(t, pod, fakeRevisions{}, 10)

	done := make(chan string, 1)
	go func() { _, body := getMarked(t, f); done <- body }()
	awaitCold(t, f)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.2", Ready: true}) // nothing listens there
	f.bal.PodsChanged(rev1)
	awaitCold(t, f) // the retry found no pod and waits again
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	f.bal.PodsChanged(rev1)
	if body := <-done; body != "mark=1" {
		t.Errorf("retried held request: pod got %q, want mark=1", body)
	}
	if n := activatorRequests(f); n != 1 {
		t.Errorf("activator report: %d requests for one request that waited twice, want 1", n)
	}
}

// TestColdBurstCountedOnce: N requests held through a cold start and then
// served by a real queue sidecar add up to N requests over the activator's
// and the sidecar's reports (the scaler's sum), not 2N; a warm request
// after them is the sidecar's to count.
func TestColdBurstCountedOnce(t *testing.T) {
	const n = 8
	userSaw := make(chan string, n+1)
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userSaw <- r.Header.Get(stats.CountedHeader)
	}))
	t.Cleanup(user.Close)
	_, userPort, _ := net.SplitHostPort(user.Listener.Addr().String())
	qcfg := queue.Config{Timeout: 10 * time.Second, QueueDepth: queue.MinQueueDepth, Namespace: "ns", Revision: "hello-00001"}
	qcfg.UserPort, _ = strconv.Atoi(userPort)
	parts := queue.NewParts(qcfg, slog.New(slog.DiscardHandler))
	parts.Readiness.SetProbed(true)
	f := newFixture(t, startPod(t, queue.NewHandler(parts)), fakeRevisions{}, n)

	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := getMarked(t, f); code != http.StatusOK {
				t.Errorf("held request: status %d", code)
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); f.bal.Held() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests held", f.bal.Held(), n)
		}
	}
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	f.bal.PodsChanged(rev1)
	wg.Wait()
	if code, _ := getMarked(t, f); code != http.StatusOK {
		t.Fatalf("warm request: status %d", code)
	}

	act, pod := activatorRequests(f), parts.Report.Report().Requests
	if act != n || pod != 1 {
		t.Errorf("reports: activator %d + queue %d requests, want %d + 1 (each request once)", act, pod, n)
	}
	for range n + 1 {
		if mark := <-userSaw; mark != "" {
			t.Errorf("the user container saw %s: %q", stats.CountedHeader, mark)
		}
	}
}
