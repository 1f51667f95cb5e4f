package queue

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"
	"time"
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

	return []hop{{"direct", nil}, {"reverseproxy", bare}, {"queue", NewHandler(parts)},
		{"proxy-only", NewProxy(port, NewTransport(), discardLog())}}
}

// BenchmarkWarmPathInterleaved sends one request to each target in turn
// (A B C A B C ...) so that all three see the same machine load, and reports
// each one's median and p99 latency and the queue's added p50 and p99 as
// a fraction of the bare ReverseProxy hop's added p50 and p99:
//
//	go test -run '^$' -bench WarmPathInterleaved ./pkg/queue/
func BenchmarkWarmPathInterleaved(b *testing.B) {
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer user.Close()
	hops := warmPathHops(b, user.URL)
	targets := make([]string, len(hops))
	clients := make([]*http.Client, len(hops))
	for i, hop := range hops {
		targets[i] = user.URL
		if hop.handler != nil {
			front := httptest.NewServer(hop.handler)
			defer front.Close()
			targets[i] = front.URL
		}
		clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	}
	samples := make([][]time.Duration, len(hops))
	for b.Loop() {
		for i := range hops {
			start := time.Now()
			resp, err := clients[i].Get(targets[i])
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			samples[i] = append(samples[i], time.Since(start))
		}
	}
	p50, p99 := make([]float64, len(hops)), make([]float64, len(hops))
	for i, hop := range hops {
		slices.Sort(samples[i])
		p50[i] = float64(samples[i][len(samples[i])/2].Microseconds())
		p99[i] = float64(samples[i][len(samples[i])*99/100].Microseconds())
		b.ReportMetric(p50[i], hop.name+"-p50-µs")
		b.ReportMetric(p99[i], hop.name+"-p99-µs")
	}
	// hops: 0 direct, 1 reverseproxy, 2 queue, 3 the queue's proxy alone
	if added := p50[1] - p50[0]; added > 0 {
		b.ReportMetric((p50[2]-p50[0])/added, "queue/rp-added-p50")
	}
	if added := p99[1] - p99[0]; added > 0 {
		b.ReportMetric((p99[2]-p99[0])/added, "queue/rp-added-p99")
	}
	b.ReportMetric(0, "ns/op") // per-hop figures above; the loop time mixes all three
}
