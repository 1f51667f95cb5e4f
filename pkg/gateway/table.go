// Package gateway is the activator's routing table: which revision a request
// is for. It is built by a pure function from the Ingress objects of csclr's
// class and the Routes' HTTPRoutes, and swapped atomically when they change,
// so that request goroutines read it without locking.
package gateway

import (
	"net"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// Key names a namespaced object (a route or a revision).
type Key = types.NamespacedName

// Headers the ingress (Knative) or the HTTPRoute's RequestHeaderModifier
// (csclr, Linkerd) sets to tell the activator which revision a request is
// for, and the tag-selecting header.
const (
	RevisionHeader  = "Knative-Serving-Revision"
	NamespaceHeader = "Knative-Serving-Namespace"
	TagHeader       = "Knative-Serving-Tag"
	// LinkerdDstHeader is set by Linkerd's proxy to the Service it routed to
	// ({name}.{ns}.svc.{domain}:{port}): for a revision's public Service it
	// names the revision.
	LinkerdDstHeader = "L5d-Dst-Canonical"
)

// Backend is one revision of a split with its weight.
type Backend struct {
	Revision Key
	Weight   uint32
}

// Split is a weighted choice of revisions.
type Split struct {
	Backends []Backend // only those with a positive weight
	total    uint64
}

func newSplit(bs []Backend) Split {
	s := Split{}
	for _, b := range bs {
		if b.Weight > 0 {
			s.Backends = append(s.Backends, b)
			s.total += uint64(b.Weight)
		}
	}
	return s
}

// Pick chooses a revision with probability proportional to its weight; rnd
// is a uniformly random number (one per request, so that the choice is not
// sticky). ok is false when the split is empty.
func (s Split) Pick(rnd uint64) (Key, bool) {
	if s.total == 0 {
		return Key{}, false
	}
	n := rnd % s.total
	for _, b := range s.Backends {
		if n < uint64(b.Weight) {
			return b.Revision, true
		}
		n -= uint64(b.Weight)
	}
	return s.Backends[len(s.Backends)-1].Revision, true // unreachable
}

// Route is one Knative Route's traffic: its main split and its tags.
type Route struct {
	Key  Key
	Main Split
	Tags map[string]Split
	// TagHeader: the Knative-Serving-Tag header selects a tag on the route's
	// own hosts, because its HTTPRoute matches that header (config-features
	// tag-header-based-routing Enabled), as it does for Linkerd. Otherwise
	// the header is ignored and tags are reached by their tag hosts only.
	TagHeader bool
}

// Target is what a request resolved to.
type Target struct {
	Revision Key
	Route    Key    // zero when the revision was named directly
	Tag      string // the tag that selected it, if any
}

// Table maps hosts to routes. It is immutable once built.
type Table struct {
	hosts         map[string]hostEntry // lower-case host, no port
	routes        map[Key]*Route
	revisions     map[Key]bool // every revision some route sends traffic to
	clusterDomain string
}

type hostEntry struct {
	route *Route
	tag   string // the tag host's tag
	fixed *Split // a host whose Ingress backend names one revision
}

// Route returns a route by key.
func (t *Table) Route(k Key) (*Route, bool) {
	r, ok := t.routes[k]
	return r, ok
}

// Resolve finds the revision for a request, in this order:
//  1. the Knative-Serving-Revision and -Namespace headers (set by an ingress
//     or by the HTTPRoute's header modifier after the mesh chose the split),
//     or Linkerd's l5d-dst-canonical naming a routed revision's Service;
//  2. the host of an Ingress (a route's host or one of its tag hosts); on a
//     route's host, the Knative-Serving-Tag header selects a tag when the
//     route's TagHeader says so;
//  3. a Service host, {name}.{ns}[.svc[.{cluster domain}]]: the apex
//     Service of a route, or the public Service of a routed revision.
//
// rnd draws the weighted choice. ok is false for an unknown host (404).
func (t *Table) Resolve(host string, h http.Header, rnd uint64) (Target, bool) {
	if rev, ns := h.Get(RevisionHeader), h.Get(NamespaceHeader); rev != "" && ns != "" {
		return Target{Revision: Key{Namespace: ns, Name: rev}}, true
	}
	if dst := h.Get(LinkerdDstHeader); dst != "" {
		if name, ns, ok := t.serviceHost(canonicalHost(dst)); ok && t.revisions[Key{Namespace: ns, Name: name}] {
			return Target{Revision: Key{Namespace: ns, Name: name}}, true
		}
	}
	host = canonicalHost(host)
	if e, ok := t.hosts[host]; ok {
		return e.resolve(h, rnd)
	}
	name, ns, ok := t.serviceHost(host)
	if !ok {
		return Target{}, false
	}
	k := Key{Namespace: ns, Name: name}
	if r, ok := t.routes[k]; ok {
		return hostEntry{route: r}.resolve(h, rnd)
	}
	if t.revisions[k] {
		return Target{Revision: k}, true
	}
	return Target{}, false
}

func (e hostEntry) resolve(h http.Header, rnd uint64) (Target, bool) {
	r := e.route
	if e.fixed != nil {
		rev, ok := e.fixed.Pick(rnd)
		return Target{Revision: rev, Route: r.Key, Tag: e.tag}, ok
	}
	tag := e.tag
	if tag == "" && r.TagHeader {
		tag = h.Get(TagHeader)
	}
	if tag != "" {
		if s, ok := r.Tags[tag]; ok {
			rev, ok := s.Pick(rnd)
			return Target{Revision: rev, Route: r.Key, Tag: tag}, ok
		}
		if e.tag != "" {
			return Target{}, false
		}
		// An unknown tag header on the main host falls back to the main split,
		// as Knative does.
	}
	rev, ok := r.Main.Pick(rnd)
	return Target{Revision: rev, Route: r.Key}, ok
}

// serviceHost reads {name}.{ns}, {name}.{ns}.svc and
// {name}.{ns}.svc.{cluster domain}.
func (t *Table) serviceHost(host string) (name, ns string, ok bool) {
	parts := strings.SplitN(host, ".", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	if len(parts) == 3 && parts[2] != "svc" && parts[2] != "svc."+t.clusterDomain {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// canonicalHost lower-cases a Host header and drops its port and any
// trailing dot.
func canonicalHost(host string) string {
	if strings.IndexByte(host, ':') >= 0 { // SplitHostPort allocates its error
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
