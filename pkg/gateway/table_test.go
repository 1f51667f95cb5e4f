package gateway

import (
	"net/http"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func testTable() *Table {
	return Build(
		[]*networkingv1.Ingress{ingress("ns", "hello", "csclr", "hello.ns.example.com", "candidate-hello.ns.example.com")},
		[]*gatewayv1.HTTPRoute{httpRoute("ns", "hello",
			gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 90), backend("hello-00002", 10)}},
			tagRule("candidate", backend("hello-00002", 100)),
		)}, opts)
}

func TestResolve(t *testing.T) {
	hello := Key{Namespace: "ns", Name: "hello"}
	r1 := Key{Namespace: "ns", Name: "hello-00001"}
	r2 := Key{Namespace: "ns", Name: "hello-00002"}
	tests := []struct {
		name   string
		host   string
		header http.Header
		rnd    uint64
		want   Target
		wantOK bool
	}{
		{name: "main host, low draw", host: "hello.ns.example.com", rnd: 0, want: Target{Revision: r1, Route: hello}, wantOK: true},
		{name: "main host, high draw", host: "hello.ns.example.com", rnd: 95, want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "port and case ignored", host: "HELLO.ns.example.com:8080", rnd: 189, want: Target{Revision: r1, Route: hello}, wantOK: true},
		{name: "tag host", host: "candidate-hello.ns.example.com", rnd: 0, want: Target{Revision: r2, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "tag header on the main host", host: "hello.ns.example.com", header: http.Header{TagHeader: {"candidate"}}, want: Target{Revision: r2, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "unknown tag header falls back to main", host: "hello.ns.example.com", header: http.Header{TagHeader: {"nope"}}, want: Target{Revision: r1, Route: hello}, wantOK: true},
		{name: "revision headers win", host: "whatever", header: http.Header{RevisionHeader: {"x-00009"}, NamespaceHeader: {"other"}}, want: Target{Revision: Key{Namespace: "other", Name: "x-00009"}}, wantOK: true},
		{name: "linkerd destination names a revision Service", host: "hello.ns.example.com", header: http.Header{LinkerdDstHeader: {"hello-00002.ns.svc.cluster.local:80"}}, want: Target{Revision: r2}, wantOK: true},
		{name: "linkerd destination of the apex Service: split as usual", host: "hello.ns.example.com", header: http.Header{LinkerdDstHeader: {"hello.ns.svc.cluster.local:80"}}, rnd: 0, want: Target{Revision: r1, Route: hello}, wantOK: true},
		{name: "apex Service host", host: "hello.ns.svc.cluster.local", rnd: 99, want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "short apex Service host", host: "hello.ns", want: Target{Revision: r1, Route: hello}, wantOK: true},
		{name: "revision Service host", host: "hello-00002.ns.svc.cluster.local", want: Target{Revision: r2}, wantOK: true},
		{name: "revision Service host, .svc", host: "hello-00001.ns.svc", want: Target{Revision: r1}, wantOK: true},
		{name: "unknown revision", host: "nope-00001.ns.svc.cluster.local", wantOK: false},
		{name: "other cluster domain", host: "hello.ns.svc.example.org", wantOK: false},
		{name: "unknown host", host: "example.com", wantOK: false},
		{name: "empty host", host: "", wantOK: false},
	}
	table := testTable()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			got, ok := table.Resolve(tc.host, h, tc.rnd)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("Resolve(%q) = %+v, %v; want %+v, %v", tc.host, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestSplitWeights(t *testing.T) {
	table := testTable()
	counts := map[string]int{}
	for rnd := range uint64(1000) {
		got, _ := table.Resolve("hello.ns.example.com", http.Header{}, rnd)
		counts[got.Revision.Name]++
	}
	if counts["hello-00001"] != 900 || counts["hello-00002"] != 100 {
		t.Errorf("over 1000 uniform draws: %v, want 900/100", counts)
	}
	if _, ok := (Split{}).Pick(7); ok {
		t.Error("an empty split picked a revision")
	}
}

type fakeLister struct {
	ings []*networkingv1.Ingress
	hrs  []*gatewayv1.HTTPRoute
}

func (f fakeLister) Ingresses() ([]*networkingv1.Ingress, error) { return f.ings, nil }
func (f fakeLister) HTTPRoutes() ([]*gatewayv1.HTTPRoute, error) { return f.hrs, nil }

func TestSyncerSwaps(t *testing.T) {
	store := NewStore(opts)
	if _, ok := store.Load().Resolve("hello.ns.example.com", http.Header{}, 0); ok {
		t.Fatal("empty store resolved a host")
	}
	s := NewSyncer(store, fakeLister{
		ings: []*networkingv1.Ingress{ingress("ns", "hello", "csclr", "hello.ns.example.com")},
		hrs:  []*gatewayv1.HTTPRoute{httpRoute("ns", "hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}})},
	}, opts)
	old := store.Load()
	s.Changed()
	s.Changed() // coalesces; never blocks
	s.Rebuild()
	if _, ok := store.Load().Resolve("hello.ns.example.com", http.Header{}, 0); !ok {
		t.Error("after a rebuild the host is still unknown")
	}
	if _, ok := old.Resolve("hello.ns.example.com", http.Header{}, 0); ok {
		t.Error("the old table changed: tables must be immutable")
	}
}

func BenchmarkResolve(b *testing.B) {
	table := testTable()
	h := http.Header{}
	b.ReportAllocs()
	for i := range b.N {
		if _, ok := table.Resolve("hello.ns.example.com", h, uint64(i)); !ok {
			b.Fatal("not found")
		}
	}
}
