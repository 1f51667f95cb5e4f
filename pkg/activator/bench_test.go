package activator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"csclr.dev/csclr/pkg/tracing/tracingtest"
)

// The warm-path benchmarks of benchmarks.md, closed loop on loopback: a
// trivial backend reached directly, through one bare
// httputil.ReverseProxy hop, and through the activator chain. Compare the
// ns/op of the three in the same run:
//
//	go test -run '^$' -bench 'Warm' -benchtime 3s ./pkg/activator/

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

func runLoad(b *testing.B, url, host string) {
	client := benchClient()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = host
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func trivialPod(b *testing.B) *fakePod {
	return startPod(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
}

func BenchmarkWarmDirect(b *testing.B) {
	pod := trivialPod(b)
	runLoad(b, pod.srv.URL+"/", "hello.ns.example.com")
}

func BenchmarkWarmBareReverseProxy(b *testing.B) {
	pod := trivialPod(b)
	u, _ := url.Parse(pod.srv.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	front := httptest.NewServer(rp)
	defer front.Close()
	runLoad(b, front.URL+"/", "hello.ns.example.com")
}

func BenchmarkWarmActivatorChain(b *testing.B) {
	pod := trivialPod(b)
	f := newFixture(b, pod, fakeRevisions{}, 100)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	runLoad(b, f.front.URL+"/", "hello.ns.example.com")
}

func BenchmarkWarmActivatorChainWithMetrics(b *testing.B) {
	pod := trivialPod(b)
	f := newFixture(b, pod, fakeRevisions{}, 100)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	m, err := NewMetrics(prometheus.NewRegistry(), f.bal.Held)
	if err != nil {
		b.Fatal(err)
	}
	c := f.chain
	c.Metrics = m
	f.front.Config.Handler = NewHandler(c)
	runLoad(b, f.front.URL+"/", "hello.ns.example.com")
}

// BenchmarkWarmActivatorChainTracing is the chain recording every span
// into a batch that is thrown away: the cost of tracing when on, without
// the network. (Off, the default, the chain has no tracing step at all.)
func BenchmarkWarmActivatorChainTracing(b *testing.B) {
	pod := trivialPod(b)
	f := newFixture(b, pod, fakeRevisions{}, 100)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	c := f.chain
	c.Tracing = tracingtest.Discarding(b)
	f.front.Config.Handler = NewHandler(c)
	runLoad(b, f.front.URL+"/", "hello.ns.example.com")
}
