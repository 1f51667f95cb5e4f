package activator

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/gateway"
	"csclr.dev/csclr/pkg/queue"
)

var rev1 = Key{Namespace: "ns", Name: "hello-00001"}

type fakePods struct {
	mu     sync.Mutex
	pods   map[Key][]PodInfo
	onList func() // if set, runs at each RevisionPods (outside mu)
}

func (f *fakePods) RevisionPods(rev Key) []PodInfo {
	f.mu.Lock()
	hook := f.onList
	pods := append([]PodInfo(nil), f.pods[rev]...)
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return pods
}

func (f *fakePods) set(rev Key, pods ...PodInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pods == nil {
		f.pods = map[Key][]PodInfo{}
	}
	f.pods[rev] = pods
}

type fakeRevisions map[Key]RevisionInfo

func (f fakeRevisions) Revision(rev Key) (RevisionInfo, bool) { i, ok := f[rev]; return i, ok }

// fakePod is a revision pod: its queue sidecar answers probes (503 until
// ready) and echoes everything else.
type fakePod struct {
	srv   *httptest.Server
	port  int
	ready atomic.Bool
}

func startPod(t testing.TB, h http.Handler) *fakePod {
	p := &fakePod{}
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s %s %s xff=%s", r.Host, r.URL.Path, r.Proto, r.Header.Get("X-Forwarded-For"))
		})
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.ProbeHeader) == queue.ProbeHeaderValue {
			if p.ready.Load() {
				w.WriteHeader(http.StatusOK)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	p.srv.Config.Protocols = new(http.Protocols)
	p.srv.Config.Protocols.SetHTTP1(true)
	p.srv.Config.Protocols.SetUnencryptedHTTP2(true)
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	_, port, _ := net.SplitHostPort(p.srv.Listener.Addr().String())
	p.port, _ = strconv.Atoi(port)
	return p
}

type fixture struct {
	pods    *fakePods
	bal     *Balancer
	chain   Chain
	handler http.Handler
	front   *httptest.Server
	colds   chan Key
}

// countingLookups answers from infos and counts the lookups, each an API
// round trip in the activator.
type countingLookups struct {
	infos fakeRevisions
	asks  atomic.Int32
}

func (c *countingLookups) Revision(rev Key) (RevisionInfo, bool) {
	c.asks.Add(1)
	return c.infos.Revision(rev)
}

func newFixture(t testing.TB, pod *fakePod, revs RevisionLister, depth int) *fixture {
	f := &fixture{pods: &fakePods{}, colds: make(chan Key, 100)}
	f.bal = NewBalancer(BalancerConfig{
		Pods: f.pods, Revisions: revs, Replicas: func() int { return 1 }, QueueDepth: depth,
		Clock: clock.RealClock{}, Port: pod.port,
		Prober: &Prober{Client: &http.Client{Timeout: time.Second}, Clock: clock.RealClock{}, Interval: 2 * time.Millisecond},
	})
	table := gateway.Build(
		[]*networkingv1.Ingress{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}, Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("csclr"), Rules: []networkingv1.IngressRule{{Host: "hello.ns.example.com"}}}}},
		[]*gatewayv1.HTTPRoute{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}, Spec: gatewayv1.HTTPRouteSpec{
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "hello-00001"}, Weight: ptr.To(int32(100))}}}}}}}},
		gateway.Options{IngressClass: "csclr", ClusterDomain: "cluster.local"})
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	f.chain = Chain{
		Table:      func() *gateway.Table { return table },
		Balancer:   f.bal,
		Cold:       func(rev Key) { f.colds <- rev },
		Transport:  &http.Transport{MaxIdleConnsPerHost: 100},
		H2C:        h2c,
		Clock:      clock.RealClock{},
		RetryAfter: 2 * time.Second,
	}
	f.handler = NewHandler(f.chain)
	f.front = httptest.NewUnstartedServer(f.handler)
	f.front.Config.Protocols = new(http.Protocols)
	f.front.Config.Protocols.SetHTTP1(true)
	f.front.Config.Protocols.SetUnencryptedHTTP2(true)
	f.front.Start()
	t.Cleanup(f.front.Close)
	return f
}

func (f *fixture) get(t testing.TB, host string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.front.URL+"/path", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
