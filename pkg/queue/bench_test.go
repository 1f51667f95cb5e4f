package queue

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// The warm path, end to end over loopback: a client calls a trivial user
// container directly, through one bare httputil.ReverseProxy hop, and
// through the queue's handler chain (containerConcurrency 100, request log
// off as in a busy production pod). Run with:
//
//	go test -run '^$' -bench WarmPath -benchmem ./pkg/queue/
func BenchmarkWarmPath(b *testing.B) {
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer user.Close()
	for _, hop := range warmPathHops(b, user.URL) {
		b.Run(hop.name, func(b *testing.B) {
			front := httptest.NewServer(hop.handler)
			defer front.Close()
			target := user.URL
			if hop.handler != nil {
				target = front.URL
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(target)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkHopHandler measures only the hop's handler (called in-process,
// the user container still over loopback), so allocs/op is the hop's own.
func BenchmarkHopHandler(b *testing.B) {
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer user.Close()
	for _, hop := range warmPathHops(b, user.URL) {
		if hop.handler == nil {
			continue
		}
		b.Run(hop.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://hello.ns.example.com/", nil)
			req.RemoteAddr = "10.0.0.1:1234"
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				hop.handler.ServeHTTP(w, req)
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
				// The chain edits forwarding headers in place.
				req.Header = http.Header{}
			}
		})
	}
}

type hop struct {
	name    string
	handler http.Handler // nil: call the user container directly
}

func warmPathHops(b *testing.B, userURL string) []hop {
	u, _ := url.Parse(userURL)
	var port int
	fmt.Sscan(u.Port(), &port)

	bare := httputil.NewSingleHostReverseProxy(u)
	bare.Transport = &http.Transport{MaxIdleConnsPerHost: 100}

	cfg := testConfig(port)
	cfg.ContainerConcurrency, cfg.QueueDepth = 100, 1000
	parts := NewParts(cfg, discardLog())
	parts.Readiness.SetProbed(true)

	return []hop{{"direct", nil}, {"reverseproxy", bare}, {"queue", NewHandler(parts)}}
}
