// Package gateway is the activator's routing table: which revision a request
// is for. It is built by a pure function from the Ingress objects of csclr's
// class and the Routes' HTTPRoutes, and swapped atomically when they change,
// so that request goroutines read it without locking.
//
// One build makes two views, one per listener of the activator. The
// in-cluster view (the Table Build returns) serves what arrives through the
// apex Services and the revisions' Services: Ingress hosts, and the
// cluster's own Service names. The public view (Table.Public) serves the
// ingress class's external entry: only the hosts of the Ingresses, which
// exist for public Routes only, so that a cluster-local Route or a single
// revision cannot be reached from outside by naming it in the Host header.
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
// for, and the tag-selecting header. Any client can send them too, so
// Resolve lets them choose only among the revisions the host reaches.
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

// has reports whether the split can pick rev.
func (s Split) has(rev Key) bool {
	for _, b := range s.Backends {
		if b.Revision == rev {
			return true
		}
	}
	return false
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
	Route    Key    // zero on a revision's own Service host
	Tag      string // the tag that selected it, if any
}

// Table maps hosts to routes. It is immutable once built.
type Table struct {
	hosts     map[string]hostEntry // lower-case host, no port
	routes    map[Key]*Route
	revisions map[Key]bool // every revision some route sends traffic to
	// tagServices are the in-cluster names of the routes' tag hosts,
	// {tag}-{route} in the route's namespace (Knative's default tag
	// template), read as Service hosts are: a cluster-local Route has no
	// Ingress to list its tag hosts.
	tagServices map[Key]hostEntry
	// ips are the cluster IPs of the apex and tag Services (ClusterIPsAnnotation).
	ips           map[string]ipEntry
	clusterDomain string
	public        *Table // the public view of the same objects
	external      bool   // this is the public view
}

type hostEntry struct {
	route *Route
	tag   string // the tag host's tag
}

type ipEntry struct {
	hostEntry
	by Key // the HTTPRoute that claimed the IP
}

// Public is the view of the same objects for the public listener (the
// ingress class's external entry). There only the hosts of the Ingresses
// resolve, except those of Ingresses labelled cluster-local (an older
// csclr made them; the Route reconciler deletes them), and the revision is
// the host's weighted draw: a Service name is the cluster's own and names
// nothing outside it, and the revision-naming headers are what the mesh or
// the HTTPRoute set on the way in the cluster, which an outside client
// does not pass through (Knative's ingress sets them, over the client's).
func (t *Table) Public() *Table {
	if t.external || t.public == nil {
		return t
	}
	return t.public
}

// Route returns a route by key.
func (t *Table) Route(k Key) (*Route, bool) {
	r, ok := t.routes[k]
	return r, ok
}

// Resolve finds the revision for a request. The host decides which
// revisions the request can reach, and only the host:
//   - the host of an Ingress: a route's host, or one of its tag hosts;
//   - a Service host, {name}.{ns}[.svc[.{cluster domain}]]: the apex Service
//     of a route, or the public Service of a routed revision;
//   - the in-cluster name of a tag host, {tag}-{route}.{ns}[.svc[...]];
//   - the cluster IP of a route's apex Service or of a tag's Service;
//   - a short name, {name}, when the Knative-Serving-Namespace header is
//     set: as {name}.{ns};
//   - anything else is unknown: ok is false (404), whatever the headers say.
//
// On the public view (Public) only the first kind resolves, and only the
// draw chooses within the host's split (see Public).
//
// On a route's host the Knative-Serving-Tag header selects a tag when the
// route's TagHeader says so. Within the split so chosen, a revision the
// request names, by the Knative-Serving-Revision and -Namespace headers (the
// HTTPRoute's header modifier, after Linkerd drew from the same split) or
// by Linkerd's l5d-dst-canonical naming its Service, is taken as the draw
// already made; otherwise rnd draws the weighted choice. See named.
func (t *Table) Resolve(host string, h http.Header, rnd uint64) (Target, bool) {
	host = canonicalHost(host)
	if e, ok := t.hosts[host]; ok {
		return t.resolveOn(e, h, rnd)
	}
	if t.external {
		return Target{}, false
	}
	if e, ok := t.ips[host]; ok {
		return t.resolveOn(e.hostEntry, h, rnd)
	}
	if ns := h.Get(NamespaceHeader); ns != "" && host != "" && strings.IndexByte(host, '.') < 0 {
		// A meshed caller's short name ("hello"): the HTTPRoute's header
		// modifier names the namespace, and {host}.{ns} is a host any
		// client may send anyway.
		host += "." + ns
	}
	name, ns, ok := t.serviceHost(host)
	if !ok {
		return Target{}, false
	}
	k := Key{Namespace: ns, Name: name}
	if r, ok := t.routes[k]; ok {
		return t.resolveOn(hostEntry{route: r}, h, rnd)
	}
	if t.revisions[k] {
		// A revision's own Service host reaches that revision alone: there
		// is nothing for the headers to narrow.
		return Target{Revision: k}, true
	}
	if e, ok := t.tagServices[k]; ok {
		// After the Services: a name DNS resolves belongs to its Service.
		return t.resolveOn(e, h, rnd)
	}
	return Target{}, false
}

// resolveOn chooses among the revisions of the split the route host e
// selects.
func (t *Table) resolveOn(e hostEntry, h http.Header, rnd uint64) (Target, bool) {
	s, tag, ok := e.split(h)
	if !ok {
		return Target{}, false
	}
	var rev Key
	named := false
	if !t.external {
		rev, named = t.named(h, s)
	}
	if !named {
		rev, ok = s.Pick(rnd)
	}
	return Target{Revision: rev, Route: e.route.Key, Tag: tag}, ok
}

// named returns the revision the request's headers name, if it is one of
// s's. The headers come from the client as much as from the mesh, so they
// may only narrow the host's choice, never widen it. One that names a
// revision outside s is ignored rather than refused (404): it gains the
// client nothing that the host alone would not give, and a legitimate one
// can briefly disagree with this table while a traffic change propagates
// (Linkerd reads the new HTTPRoute before or after the activator does);
// the request is then served by the split the activator knows.
func (t *Table) named(h http.Header, s Split) (Key, bool) {
	if rev, ns := h.Get(RevisionHeader), h.Get(NamespaceHeader); rev != "" && ns != "" {
		if k := (Key{Namespace: ns, Name: rev}); s.has(k) {
			return k, true
		}
	}
	if dst := h.Get(LinkerdDstHeader); dst != "" {
		// The apex Service of a route is not one of its revisions: the
		// split is drawn as usual.
		if name, ns, ok := t.serviceHost(canonicalHost(dst)); ok {
			if k := (Key{Namespace: ns, Name: name}); s.has(k) {
				return k, true
			}
		}
	}
	return Key{}, false
}

// split is the weighted choice a route host makes: its tag's split on a tag
// host, else the split of the tag the Knative-Serving-Tag header selects
// (when the route honours it), else the main split. ok is false when a tag
// host's tag is gone.
func (e hostEntry) split(h http.Header) (s Split, tag string, ok bool) {
	r := e.route
	tag = e.tag
	if tag == "" && r.TagHeader {
		tag = h.Get(TagHeader)
	}
	if tag != "" {
		if s, ok := r.Tags[tag]; ok {
			return s, tag, true
		}
		if e.tag != "" {
			return Split{}, "", false
		}
		// An unknown tag header on the main host falls back to the main split,
		// as Knative does.
	}
	return r.Main, "", true
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
