package activator

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRevisionTimeouts: the activator applies the revision's timeouts to
// the whole request, from its arrival, as the queue sidecar does from the
// request's arrival at the pod: a 504 when no response started in time
// (timeoutSeconds, responseStartTimeoutSeconds, or idleTimeoutSeconds
// before the start), a cut response when it goes idle after the start, and
// never a cut for a started response that is merely slow overall.
func TestRevisionTimeouts(t *testing.T) {
	const short = 300 * time.Millisecond
	for _, tc := range []struct {
		name     string
		info     RevisionInfo
		pod      http.HandlerFunc
		wantCode int
		wantBody string // "" = not checked
		wantCut  bool   // the body ends early
	}{
		{name: "no response within timeoutSeconds", info: RevisionInfo{Timeout: short},
			pod: blockUntilCancelled, wantCode: http.StatusGatewayTimeout},
		{name: "responseStartTimeoutSeconds shorter than timeoutSeconds", info: RevisionInfo{Timeout: time.Minute, ResponseStartTimeout: short},
			pod: blockUntilCancelled, wantCode: http.StatusGatewayTimeout},
		{name: "idleTimeoutSeconds before the response starts", info: RevisionInfo{Timeout: time.Minute, IdleTimeout: short},
			pod: blockUntilCancelled, wantCode: http.StatusGatewayTimeout},
		{name: "a started response outlives timeoutSeconds", info: RevisionInfo{Timeout: short},
			pod: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "started ")
				http.NewResponseController(w).Flush()
				time.Sleep(2 * short)
				io.WriteString(w, "done")
			}, wantCode: http.StatusOK, wantBody: "started done"},
		{name: "bytes keep a response within idleTimeoutSeconds", info: RevisionInfo{Timeout: time.Minute, IdleTimeout: short},
			pod: func(w http.ResponseWriter, r *http.Request) {
				for range 6 {
					io.WriteString(w, ".")
					http.NewResponseController(w).Flush()
					time.Sleep(short / 3)
				}
			}, wantCode: http.StatusOK, wantBody: "......"},
		{name: "idle after the start cuts the response", info: RevisionInfo{Timeout: time.Minute, IdleTimeout: short},
			pod: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "started")
				http.NewResponseController(w).Flush()
				blockUntilCancelled(w, r)
			}, wantCode: http.StatusOK, wantCut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, startPod(t, tc.pod), fakeRevisions{rev1: tc.info}, 10)
			var logs bytes.Buffer
			var logMu sync.Mutex
			f.chain.Log = slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, nil))
			f.front.Config.Handler = NewHandler(f.chain)
			f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})

			start := time.Now()
			resp, err := http.DefaultClient.Do(mustReq(f.front.URL, "hello.ns.example.com"))
			if err != nil {
				t.Fatal(err)
			}
			body, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d %q after %s, want %d", resp.StatusCode, body, took, tc.wantCode)
			}
			if tc.wantBody != "" && (string(body) != tc.wantBody || readErr != nil) {
				t.Errorf("body %q (%v), want %q whole", body, readErr, tc.wantBody)
			}
			if tc.wantCut && readErr == nil {
				t.Errorf("body %q read whole, want the response cut when idle", body)
			}
			if tc.wantCode == http.StatusGatewayTimeout {
				if took < short || took > 2*time.Second {
					t.Errorf("504 after %s, want it at the %s timeout", took, short)
				}
				// The log says what the caller got, not that a client left.
				deadline := time.Now().Add(2 * time.Second)
				for !strings.Contains(locked(&logMu, &logs), `"status":504`) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if l := locked(&logMu, &logs); !strings.Contains(l, `"status":504`) {
					t.Errorf("request log %s, want status 504", l)
				}
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func locked(mu *sync.Mutex, b *bytes.Buffer) string {
	mu.Lock()
	defer mu.Unlock()
	return b.String()
}

// TestColdWaitCountsAgainstTheTimeout: a request that waited for a pod has
// only what is left of timeoutSeconds for the response to start, not a
// fresh timeoutSeconds at the pod (about twice the revision's timeout in
// all).
func TestColdWaitCountsAgainstTheTimeout(t *testing.T) {
	const timeout = time.Second
	pod := startPod(t, http.HandlerFunc(blockUntilCancelled))
	f := newFixture(t, pod, fakeRevisions{rev1: {Timeout: timeout}}, 10)
	type result struct {
		code int
		took time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, _ := f.get(t, "hello.ns.example.com")
		done <- result{resp.StatusCode, time.Since(start)}
	}()
	<-f.colds
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1"})
	f.bal.PodsChanged(rev1)
	time.Sleep(timeout * 6 / 10)
	pod.ready.Store(true) // the held request goes to the pod, which never answers
	select {
	case r := <-done:
		if r.code != http.StatusGatewayTimeout || r.took < timeout || r.took > timeout*3/2 {
			t.Errorf("status %d after %s, want 504 at the %s timeout counted from the arrival", r.code, r.took, timeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
}
