package queue

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowUser waits firstByte, then writes chunks with gap between them.
func slowUser(firstByte time.Duration, chunks int, gap time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(firstByte):
		case <-r.Context().Done():
			return
		}
		for i := range chunks {
			if i > 0 {
				time.Sleep(gap)
			}
			fmt.Fprintf(w, "%d;", i)
			w.(http.Flusher).Flush()
		}
	})
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name     string
		user     http.Handler
		timeouts func(*Config)
		wantCode int
		wantBody string
		wantCut  bool // the response started, then was aborted
	}{{
		name:     "first byte late: 504",
		user:     slowUser(2*time.Second, 1, 0),
		timeouts: func(c *Config) { c.Timeout = 100 * time.Millisecond },
		wantCode: http.StatusGatewayTimeout, wantBody: "gateway timeout: no response started in time\n",
	}, {
		name:     "first byte on time: 200",
		user:     slowUser(20*time.Millisecond, 1, 0),
		timeouts: func(c *Config) { c.Timeout = time.Second },
		wantCode: http.StatusOK, wantBody: "0;",
	}, {
		name:     "streaming past timeoutSeconds is not cut",
		user:     slowUser(0, 5, 60*time.Millisecond),
		timeouts: func(c *Config) { c.Timeout = 100 * time.Millisecond },
		wantCode: http.StatusOK, wantBody: "0;1;2;3;4;",
	}, {
		name:     "responseStartTimeout shorter than timeout: 504",
		user:     slowUser(2*time.Second, 1, 0),
		timeouts: func(c *Config) { c.Timeout, c.ResponseStartTimeout = 10*time.Second, 100*time.Millisecond },
		wantCode: http.StatusGatewayTimeout, wantBody: "gateway timeout: no response started in time\n",
	}, {
		name:     "idle before the first byte: 504",
		user:     slowUser(2*time.Second, 1, 0),
		timeouts: func(c *Config) { c.Timeout, c.IdleTimeout = 10*time.Second, 100*time.Millisecond },
		wantCode: http.StatusGatewayTimeout, wantBody: "gateway timeout: no bytes from the container within the idle timeout\n",
	}, {
		name:     "active stream within the idle timeout: 200",
		user:     slowUser(0, 5, 40*time.Millisecond),
		timeouts: func(c *Config) { c.Timeout, c.IdleTimeout = 10*time.Second, 150*time.Millisecond },
		wantCode: http.StatusOK, wantBody: "0;1;2;3;4;",
	}, {
		name:     "idle after the start: response cut",
		user:     slowUser(0, 2, 2*time.Second),
		timeouts: func(c *Config) { c.Timeout, c.IdleTimeout = 10*time.Second, 100*time.Millisecond },
		wantCode: http.StatusOK, wantBody: "0;", wantCut: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(startUser(t, tt.user))
			tt.timeouts(&cfg)
			url, parts := startQueue(t, cfg)

			start := time.Now()
			resp, err := http.Get(url)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || string(body) != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			if cut := readErr != nil; cut != tt.wantCut {
				t.Fatalf("body read error %v; want a cut response: %v", readErr, tt.wantCut)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("answer took %v; the timeout should have acted within a second", d)
			}
			waitFor(t, func() bool { return parts.Report.InFlight() == 0 }, "in-flight back to 0")
		})
	}
}

// TestTimeoutIncludesQueueing: a request that waits for a slot longer than
// the timeout gets its 504 without ever reaching the container.
func TestTimeoutIncludesQueueing(t *testing.T) {
	cfg := testConfig(startUser(t, slowUser(400*time.Millisecond, 1, 0)))
	cfg.ContainerConcurrency, cfg.Timeout = 1, 250*time.Millisecond
	url, _ := startQueue(t, cfg)

	first := make(chan int)
	go func() { code, _, _ := get(t, url, nil); first <- code }()
	time.Sleep(50 * time.Millisecond)
	code, _, _ := get(t, url, nil)
	if code != http.StatusGatewayTimeout {
		t.Fatalf("queued request past the timeout: %d, want 504", code)
	}
	if code := <-first; code != http.StatusGatewayTimeout {
		t.Fatalf("first request (400ms first byte, 250ms timeout): %d, want 504", code)
	}
}

// TestTimeoutWriterRace makes the container answer right around the
// deadline many times at once; under -race each answer must be a whole 200
// or a whole 504, never a mix.
func TestTimeoutWriterRace(t *testing.T) {
	cfg := testConfig(startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		w.Header().Set("X-User", "1")
		w.Header().Add("Trailer", "X-Done")
		fmt.Fprint(w, "ok")
		w.Header().Set("X-Done", "yes")
	})))
	cfg.Timeout = 50 * time.Millisecond
	url, _ := startQueue(t, cfg)

	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				code, body, h := get(t, url, nil)
				switch {
				case code == 200 && body == "ok" && h.Get("X-User") == "1":
				case code == 504 && strings.HasPrefix(body, "gateway timeout") && h.Get("X-User") == "":
				default:
					t.Errorf("mixed answer: %d %q X-User=%q", code, body, h.Get("X-User"))
				}
				mu.Lock()
				counts[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("answers by status: %v", counts)
}
