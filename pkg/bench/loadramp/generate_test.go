package loadramp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestGenerateSendsTheScheduleOpenLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "svc.example" {
			http.Error(w, "wrong host "+r.Host, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	s := Schedule{MaxRPS: 400, Ramp: 500 * time.Millisecond, Hold: 250 * time.Millisecond} // 200 requests
	// A slot per request: however late the answers on a busy machine,
	// none may be left unsent.
	l := Generate(context.Background(), NewClient(200, 5*time.Second), Target{URL: srv.URL, Host: "svc.example"}, s, 200)
	if len(l.Records) != 200 {
		t.Fatalf("%d records, want 200", len(l.Records))
	}
	for i, r := range l.Records {
		if !r.OK() {
			t.Fatalf("request %d: %+v", i, r)
		}
		if r.Sent < r.Due || r.Latency <= 0 {
			t.Fatalf("request %d due %v, sent %v, took %v: want sent once due, and a latency", i, r.Due, r.Sent, r.Latency)
		}
	}
	if l.Elapsed < 750*time.Millisecond {
		t.Errorf("elapsed %v: shorter than the schedule", l.Elapsed)
	}
}

func TestGenerateBoundsInFlight(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	s := Schedule{MaxRPS: 100, Hold: 200 * time.Millisecond} // 20 due, answers held
	go func() { time.Sleep(400 * time.Millisecond); release <- struct{}{}; release <- struct{}{} }()
	l := Generate(context.Background(), NewClient(2, 5*time.Second), Target{URL: srv.URL}, s, 2)
	notSent := 0
	for _, r := range l.Records {
		if r.NotSent {
			notSent++
		}
	}
	if notSent != 18 {
		t.Errorf("%d not sent, want 18 of 20 with 2 in flight held", notSent)
	}
}

func TestGenerateStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	l := Generate(ctx, NewClient(4, time.Second), Target{URL: srv.URL}, Schedule{MaxRPS: 100, Hold: time.Minute}, 4)
	if time.Since(start) > 2*time.Second || len(l.Records) > 20 {
		t.Errorf("after cancel: %d records in %v", len(l.Records), time.Since(start))
	}
}

func TestErrClass(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.Canceled, "canceled (run interrupted)"},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "timeout"},
		{os.ErrDeadlineExceeded, "timeout"},
		{&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}, "connection refused"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), "connection reset"},
		{errors.New("tls: bad"), "other"},
	} {
		if got := errClass(tc.err); got != tc.want {
			t.Errorf("errClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
