package gateway

import (
	"encoding/json"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/serving/pkg/apis/serving"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/names"
)

// Options are the cluster facts the table depends on.
type Options struct {
	// IngressClass is the class of the Ingresses the activator serves.
	IngressClass string
	// ClusterDomain is the cluster's DNS domain, e.g. cluster.local.
	ClusterDomain string
}

// TagsAnnotation on an HTTPRoute holds each tag's split as JSON, the tag
// mapped to its revisions and weights ([{"revision": ..., "weight": ...}]),
// written by csclr's Route reconciler (pkg/reconciler/route/resources)
// whether or not the HTTPRoute also has a rule matching the tag header.
const TagsAnnotation = "csclr.dev/tags"

// TagLabel (the controller's resources.TagLabelKey), set to a tag, marks
// the HTTPRoute of one of a Route's tags: attached to the tag's Service for
// Linkerd, it is not a Route's own. Its name is the tag's in-cluster name.
const TagLabel = "csclr.dev/tag"

// HostTagsAnnotation (the controller's resources.HostTagsAnnotation) on a
// Route's Ingress maps each tag host to its tag, whatever the tag template
// made of the host (JSON object).
const HostTagsAnnotation = "csclr.dev/host-tags"

// ClusterIPsAnnotation (the controller's resources.ClusterIPsAnnotation) on
// an HTTPRoute lists the cluster IPs of the Service it is attached to, the
// Route's apex Service or a tag's, comma-separated: a caller that dials the
// Service's IP sends it as the Host.
const ClusterIPsAnnotation = "csclr.dev/cluster-ips"

// legacyIngressClassAnnotation predates spec.ingressClassName and is still
// honoured by most controllers.
const legacyIngressClassAnnotation = "kubernetes.io/ingress.class"

// Build makes the routing table. A route's traffic comes from its HTTPRoute
// (the same object Linkerd reads): the rule without a Knative-Serving-Tag
// header match is the main split, each rule matching that header is a tag
// that the header selects (Route.TagHeader), and TagsAnnotation adds the
// tags without such a rule, reached by their tag hosts only.
// Hosts come from the Routes' Ingresses: the in-cluster view has those of
// every class, the public one those of opts.IngressClass. An Ingress belongs to
// the route of the same namespace and name (pkg/names). A host is a tag host
// when its first label is {tag}-{route} for one of the route's tags, or when
// its Ingress backend is one revision's public Service. The public view
// (Table.Public) has the hosts of those Ingresses that are not labelled
// networking.knative.dev/visibility: cluster-local.
//
// Build is pure: the same objects in any order give the same table.
func Build(ingresses []*networkingv1.Ingress, httpRoutes []*gatewayv1.HTTPRoute, opts Options) *Table {
	t := &Table{
		hosts:         map[string]hostEntry{},
		routes:        map[Key]*Route{},
		revisions:     map[Key]bool{},
		tagServices:   map[Key]hostEntry{},
		clusterDomain: opts.ClusterDomain,
	}
	pub := &Table{hosts: map[string]hostEntry{}, routes: t.routes, clusterDomain: opts.ClusterDomain, external: true}
	t.public = pub
	var tagRoutes []*gatewayv1.HTTPRoute
	for _, hr := range httpRoutes {
		if hr.Labels[TagLabel] != "" {
			tagRoutes = append(tagRoutes, hr)
			continue
		}
		r := routeOf(hr)
		t.routes[r.Key] = r
		t.claimIPs(hr, hostEntry{route: r})
		for _, b := range r.Main.Backends {
			t.revisions[b.Revision] = true
		}
		for tag, s := range r.Tags {
			for _, b := range s.Backends {
				t.revisions[b.Revision] = true
			}
			k := Key{Namespace: r.Key.Namespace, Name: tag + "-" + r.Key.Name}
			// Two routes can spell the same name ("a" tag "b-c", "c-a"
			// tag "b"): the first route by name keeps it, whatever the
			// order of the input.
			if have, taken := t.tagServices[k]; !taken || r.Key.Name < have.route.Key.Name {
				t.tagServices[k] = hostEntry{route: r, tag: tag}
			}
		}
	}

	// A tag's HTTPRoute bears the tag's Service name, whatever the tag
	// template made of it; the default template's names are in already.
	for _, hr := range tagRoutes {
		r, ok := t.routes[Key{Namespace: hr.Namespace, Name: hr.Labels[serving.RouteLabelKey]}]
		k := Key{Namespace: hr.Namespace, Name: hr.Name}
		if !ok {
			continue
		}
		e := hostEntry{route: r, tag: hr.Labels[TagLabel]}
		if _, taken := t.tagServices[k]; !taken {
			t.tagServices[k] = e
		}
		t.claimIPs(hr, e)
	}

	// Sorted, so that a host claimed twice always goes to the same route.
	ings := append([]*networkingv1.Ingress(nil), ingresses...)
	sort.Slice(ings, func(i, j int) bool {
		return keyLess(Key{Namespace: ings[i].Namespace, Name: ings[i].Name}, Key{Namespace: ings[j].Namespace, Name: ings[j].Name})
	})
	for _, ing := range ings {
		ours := hasClass(ing, opts.IngressClass)
		if !ours && !routesOwn(ing) {
			continue
		}
		r, ok := t.routes[Key{Namespace: ing.Namespace, Name: ing.Name}]
		if !ok {
			continue // no traffic known yet: the host stays unknown (404)
		}
		public := ours && !clusterLocal(ing)
		hostTags := hostTagsOf(ing)
		for _, rule := range ing.Spec.Rules {
			host := canonicalHost(rule.Host)
			if host == "" {
				continue
			}
			e := hostEntryFor(r, host, rule)
			if tag, ok := hostTags[host]; ok && r.Tags[tag].Backends != nil {
				e = hostEntry{route: r, tag: tag}
			}
			if _, taken := t.hosts[host]; !taken {
				t.hosts[host] = e
			}
			if _, taken := pub.hosts[host]; public && !taken {
				pub.hosts[host] = e
			}
		}
	}
	return t
}

// claimIPs makes the cluster IPs of hr's Service hosts of e. An IP is one
// Service's for its whole life, so two claims mean a stale one (a Service
// deleted and its IP reused before the controller caught up): the
// HTTPRoute first by namespace and name keeps it, whatever the input order.
func (t *Table) claimIPs(hr *gatewayv1.HTTPRoute, e hostEntry) {
	raw := hr.Annotations[ClusterIPsAnnotation]
	if raw == "" {
		return
	}
	by := Key{Namespace: hr.Namespace, Name: hr.Name}
	for _, ip := range strings.Split(raw, ",") {
		ip = canonicalHost(strings.TrimSpace(ip))
		if ip == "" {
			continue
		}
		if have, taken := t.ips[ip]; taken && !keyLess(by, have.by) {
			continue
		}
		if t.ips == nil {
			t.ips = map[string]ipEntry{}
		}
		t.ips[ip] = ipEntry{hostEntry: e, by: by}
	}
}

func keyLess(a, b Key) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// routesOwn reports whether the Ingress is a Route's own (the controller
// labels it with the Route's name), whatever its class. Another ingress
// controller (nginx, say) sends a Route's public host to the apex Service,
// that is to the in-cluster listener, which must know the host too.
func routesOwn(ing *networkingv1.Ingress) bool {
	return ing.Labels[serving.RouteLabelKey] == ing.Name
}

// clusterLocal reports whether the Ingress is labelled as a cluster-local
// Route's (the Route's labels are copied onto it).
func clusterLocal(ing *networkingv1.Ingress) bool {
	return ing.Labels[networking.VisibilityLabelKey] == serving.VisibilityClusterLocal
}

func hasClass(ing *networkingv1.Ingress, class string) bool {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName == class
	}
	return ing.Annotations[legacyIngressClassAnnotation] == class
}

// hostTagsOf reads the Ingress's host-to-tag map (hosts canonical); a
// missing or unreadable one is empty: the host names decide.
func hostTagsOf(ing *networkingv1.Ingress) map[string]string {
	raw := ing.Annotations[HostTagsAnnotation]
	if raw == "" {
		return nil
	}
	var m map[string]string
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for host, tag := range m {
		out[canonicalHost(host)] = tag
	}
	return out
}

func hostEntryFor(r *Route, host string, rule networkingv1.IngressRule) hostEntry {
	first, _, _ := strings.Cut(host, ".")
	if first == r.Key.Name {
		return hostEntry{route: r}
	}
	for tag := range r.Tags {
		if first == tag+"-"+r.Key.Name {
			return hostEntry{route: r, tag: tag}
		}
	}
	if rule.HTTP != nil {
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			rev := Key{Namespace: r.Key.Namespace, Name: p.Backend.Service.Name}
			for tag, s := range r.Tags {
				if len(s.Backends) == 1 && names.PublicService(s.Backends[0].Revision.Name) == rev.Name {
					return hostEntry{route: r, tag: tag}
				}
			}
		}
	}
	return hostEntry{route: r}
}

// routeOf reads one HTTPRoute.
func routeOf(hr *gatewayv1.HTTPRoute) *Route {
	r := &Route{Key: Key{Namespace: hr.Namespace, Name: hr.Name}, Tags: map[string]Split{}}
	var main []Backend
	for _, rule := range hr.Spec.Rules {
		backends := backendsOf(hr.Namespace, rule)
		if tag := tagOf(rule); tag != "" {
			if _, dup := r.Tags[tag]; !dup {
				r.Tags[tag] = newSplit(backends)
			}
			continue
		}
		if main == nil {
			main = backends
		}
	}
	r.Main = newSplit(main)
	r.TagHeader = len(r.Tags) > 0
	for tag, backends := range annotatedTags(hr) {
		if _, ruled := r.Tags[tag]; !ruled {
			r.Tags[tag] = newSplit(backends)
		}
	}
	return r
}

// annotatedTags reads the HTTPRoute's TagsAnnotation; one that does not
// parse adds no tags.
func annotatedTags(hr *gatewayv1.HTTPRoute) map[string][]Backend {
	v, ok := hr.Annotations[TagsAnnotation]
	if !ok {
		return nil
	}
	var splits map[string][]struct {
		Revision string `json:"revision"`
		Weight   int32  `json:"weight"`
	}
	if err := json.Unmarshal([]byte(v), &splits); err != nil {
		return nil
	}
	out := make(map[string][]Backend, len(splits))
	for tag, ws := range splits {
		if tag == "" {
			continue
		}
		for _, w := range ws {
			if w.Revision != "" {
				rev := Key{Namespace: hr.Namespace, Name: w.Revision}
				out[tag] = append(out[tag], Backend{Revision: rev, Weight: uint32(max(w.Weight, 0))})
			}
		}
	}
	return out
}

// tagOf returns the value of the rule's exact Knative-Serving-Tag header
// match, if it has one.
func tagOf(rule gatewayv1.HTTPRouteRule) string {
	for _, m := range rule.Matches {
		for _, h := range m.Headers {
			exact := h.Type == nil || *h.Type == gatewayv1.HeaderMatchExact
			if exact && strings.EqualFold(string(h.Name), TagHeader) {
				return h.Value
			}
		}
	}
	return ""
}

// backendsOf reads a rule's weighted backends. The revision is the value of
// the Knative-Serving-Revision header its filter sets, or else the backend
// Service's name (a revision's public Service is named after it).
func backendsOf(namespace string, rule gatewayv1.HTTPRouteRule) []Backend {
	var out []Backend
	for _, br := range rule.BackendRefs {
		if br.Kind != nil && *br.Kind != "Service" {
			continue
		}
		rev := Key{Namespace: namespace, Name: string(br.Name)}
		if br.Namespace != nil {
			rev.Namespace = string(*br.Namespace)
		}
		for _, f := range br.Filters {
			if f.Type != gatewayv1.HTTPRouteFilterRequestHeaderModifier || f.RequestHeaderModifier == nil {
				continue
			}
			for _, h := range append(append([]gatewayv1.HTTPHeader(nil), f.RequestHeaderModifier.Set...), f.RequestHeaderModifier.Add...) {
				switch {
				case strings.EqualFold(string(h.Name), RevisionHeader):
					rev.Name = h.Value
				case strings.EqualFold(string(h.Name), NamespaceHeader):
					rev.Namespace = h.Value
				}
			}
		}
		w := uint32(1) // Gateway API's default weight
		if br.Weight != nil {
			w = uint32(max(*br.Weight, 0))
		}
		out = append(out, Backend{Revision: rev, Weight: w})
	}
	return out
}
