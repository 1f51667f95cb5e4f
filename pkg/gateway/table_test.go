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
		{name: "revision headers do not make an unknown host known", host: "whatever", header: http.Header{RevisionHeader: {"x-00009"}, NamespaceHeader: {"other"}}, wantOK: false},
		{name: "linkerd destination names a revision Service", host: "hello.ns.example.com", header: http.Header{LinkerdDstHeader: {"hello-00002.ns.svc.cluster.local:80"}}, want: Target{Revision: r2, Route: hello}, wantOK: true},
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

// namedTable has a route split 90/10 with a two-revision tag (whose header
// rule turns the tag header on), a route of another namespace, and a
// cluster-local route, for the revision-naming headers.
func namedTable() *Table {
	return Build(
		[]*networkingv1.Ingress{
			ingress("ns", "hello", "csclr", "hello.ns.example.com", "candidate-hello.ns.example.com", "hello.ns.svc.cluster.local"),
			ingress("other", "world", "csclr", "world.other.example.com"),
			ingress("ns", "private", "csclr", "private.ns.svc.cluster.local"),
		},
		[]*gatewayv1.HTTPRoute{
			httpRoute("ns", "hello",
				gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 90), backend("hello-00002", 10)}},
				tagRule("candidate", backend("hello-00002", 50), backend("hello-00003", 50)),
			),
			httpRoute("other", "world", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backendIn("other", "world-00001", 100)}}),
			httpRoute("ns", "private", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("private-00001", 100)}}),
		}, opts)
}

// The revision headers and l5d-dst-canonical only narrow the choice the
// host makes; a revision outside it is ignored, an unknown host stays
// unknown. Every draw is 0: without a header that counts, the main split
// gives hello-00001 and the candidate tag hello-00002.
func TestResolveNamedRevision(t *testing.T) {
	hello := Key{Namespace: "ns", Name: "hello"}
	r1, r2, r3 := Key{Namespace: "ns", Name: "hello-00001"}, Key{Namespace: "ns", Name: "hello-00002"}, Key{Namespace: "ns", Name: "hello-00003"}
	revision := func(ns, name string) http.Header {
		return http.Header{RevisionHeader: {name}, NamespaceHeader: {ns}}
	}
	dst := func(service string) http.Header { return http.Header{LinkerdDstHeader: {service}} }
	with := func(h http.Header, key, value string) http.Header {
		h = h.Clone()
		h.Set(key, value)
		return h
	}
	drawn := Target{Revision: r1, Route: hello}
	tests := []struct {
		name   string
		host   string
		header http.Header
		want   Target
		wantOK bool
	}{
		// Unknown hosts stay unknown.
		{name: "unknown host, headers naming a routed revision", host: "example.com", header: revision("ns", "hello-00001")},
		{name: "unknown host, l5d-dst-canonical naming a routed revision", host: "example.com", header: dst("hello-00001.ns.svc.cluster.local:80")},
		{name: "unknown Service host, headers naming a routed revision", host: "nope.ns.svc.cluster.local", header: revision("ns", "hello-00002")},
		{name: "no host, headers naming a routed revision", host: "", header: revision("ns", "hello-00002")},

		// The route's host: one of its own split targets is honoured.
		{name: "main host, header names the minor target", host: "hello.ns.example.com", header: revision("ns", "hello-00002"), want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "main host, header names the major target", host: "hello.ns.example.com", header: revision("ns", "hello-00001"), want: drawn, wantOK: true},
		{name: "apex Service host (Linkerd's), header names a target", host: "hello.ns.svc.cluster.local", header: revision("ns", "hello-00002"), want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "short name (a meshed caller's), header names a target", host: "hello", header: revision("ns", "hello-00002"), want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "short name with a port, header names a target", host: "hello:80", header: revision("ns", "hello-00002"), want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "short name, no namespace header", host: "hello", header: http.Header{RevisionHeader: {"hello-00002"}}},
		{name: "short name in another namespace", host: "hello", header: revision("other", "hello-00002")},
		{name: "IP host, headers naming a routed revision", host: "10.96.0.12:80", header: revision("ns", "hello-00002")},
		{name: "short apex Service host, header names a target", host: "hello.ns:80", header: revision("ns", "hello-00002"), want: Target{Revision: r2, Route: hello}, wantOK: true},

		// ... anything else is ignored: the host's own draw.
		{name: "main host, header names another namespace's revision", host: "hello.ns.example.com", header: revision("other", "world-00001"), want: drawn, wantOK: true},
		{name: "main host, header names a cluster-local route's revision", host: "hello.ns.example.com", header: revision("ns", "private-00001"), want: drawn, wantOK: true},
		{name: "main host, header names an unrouted revision", host: "hello.ns.example.com", header: revision("ns", "secret-00001"), want: drawn, wantOK: true},
		{name: "main host, header names its target in another namespace", host: "hello.ns.example.com", header: revision("other", "hello-00002"), want: drawn, wantOK: true},
		{name: "main host, header names a tag-only revision without the tag", host: "hello.ns.example.com", header: revision("ns", "hello-00003"), want: drawn, wantOK: true},
		{name: "main host, revision header without a namespace", host: "hello.ns.example.com", header: http.Header{RevisionHeader: {"hello-00002"}}, want: drawn, wantOK: true},
		{name: "apex Service host, header names another namespace's revision", host: "hello.ns.svc.cluster.local", header: revision("other", "world-00001"), want: drawn, wantOK: true},

		// Tags: the tag's split is the choice to narrow.
		{name: "tag header, revision header names a tag target", host: "hello.ns.example.com", header: with(revision("ns", "hello-00003"), TagHeader, "candidate"), want: Target{Revision: r3, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "tag header, revision header names a main-only target", host: "hello.ns.example.com", header: with(revision("ns", "hello-00001"), TagHeader, "candidate"), want: Target{Revision: r2, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "tag host, header names a tag target", host: "candidate-hello.ns.example.com", header: revision("ns", "hello-00003"), want: Target{Revision: r3, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "tag host, header names a main-only target", host: "candidate-hello.ns.example.com", header: revision("ns", "hello-00001"), want: Target{Revision: r2, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "tag host, header names another route's revision", host: "candidate-hello.ns.example.com", header: revision("other", "world-00001"), want: Target{Revision: r2, Route: hello, Tag: "candidate"}, wantOK: true},

		// A revision's own Service host reaches that revision whatever is named.
		{name: "revision Service host, header names it", host: "hello-00002.ns.svc.cluster.local", header: revision("ns", "hello-00002"), want: Target{Revision: r2}, wantOK: true},
		{name: "revision Service host, header names a sibling", host: "hello-00002.ns.svc.cluster.local", header: revision("ns", "hello-00001"), want: Target{Revision: r2}, wantOK: true},
		{name: "revision Service host, header names another namespace's revision", host: "hello-00002.ns.svc.cluster.local", header: revision("other", "world-00001"), want: Target{Revision: r2}, wantOK: true},
		{name: "unrouted revision Service host, header names a routed revision", host: "secret-00001.ns.svc.cluster.local", header: revision("ns", "hello-00001")},

		// l5d-dst-canonical follows the same rule.
		{name: "l5d: main host, a target's Service", host: "hello.ns.example.com", header: dst("hello-00002.ns.svc.cluster.local:80"), want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "l5d: apex Service host, a target's Service, h2c port, upper case", host: "hello.ns.svc.cluster.local", header: dst("HELLO-00002.ns.svc.cluster.local:81"), want: Target{Revision: r2, Route: hello}, wantOK: true},
		{name: "l5d: main host, the apex Service", host: "hello.ns.example.com", header: dst("hello.ns.svc.cluster.local:80"), want: drawn, wantOK: true},
		{name: "l5d: main host, another namespace's revision", host: "hello.ns.example.com", header: dst("world-00001.other.svc.cluster.local:80"), want: drawn, wantOK: true},
		{name: "l5d: main host, a cluster-local route's revision", host: "hello.ns.example.com", header: dst("private-00001.ns.svc.cluster.local:80"), want: drawn, wantOK: true},
		{name: "l5d: main host, a target under another cluster domain", host: "hello.ns.example.com", header: dst("hello-00002.ns.svc.example.org:80"), want: drawn, wantOK: true},
		{name: "l5d: tag host, a tag target", host: "candidate-hello.ns.example.com", header: dst("hello-00003.ns.svc.cluster.local:80"), want: Target{Revision: r3, Route: hello, Tag: "candidate"}, wantOK: true},
		{name: "l5d: revision Service host, a sibling", host: "hello-00001.ns.svc.cluster.local", header: dst("hello-00002.ns.svc.cluster.local:80"), want: Target{Revision: r1}, wantOK: true},
		{name: "l5d: other route's host, this route's target", host: "world.other.example.com", header: dst("hello-00002.ns.svc.cluster.local:80"), want: Target{Revision: Key{Namespace: "other", Name: "world-00001"}, Route: Key{Namespace: "other", Name: "world"}}, wantOK: true},
		{name: "foreign revision headers, then l5d naming a target", host: "hello.ns.example.com", header: with(revision("other", "world-00001"), LinkerdDstHeader, "hello-00002.ns.svc.cluster.local:80"), want: Target{Revision: r2, Route: hello}, wantOK: true},
	}
	table := namedTable()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := table.Resolve(tc.host, tc.header, 0)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("Resolve(%q, %v) = %+v, %v; want %+v, %v", tc.host, tc.header, got, ok, tc.want, tc.wantOK)
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
