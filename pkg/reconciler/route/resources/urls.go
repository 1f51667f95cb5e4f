package resources

import (
	"context"
	"sort"

	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/network"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	routecfg "knative.dev/serving/pkg/reconciler/route/config"
	"knative.dev/serving/pkg/reconciler/route/domains"
)

// The URL helpers use Knative's domain code, so ctx must carry the route
// config (config.Config.ToContext): config-network's domain and tag
// templates and config-domain's domains.

// Host is the host name of the Route's traffic under tag ("" = the main
// host): the tag template applied to the name, then the domain template.
func Host(ctx context.Context, route *v1.Route, tag string) (string, error) {
	name, err := domains.HostnameFromTemplate(ctx, route.Name, tag)
	if err != nil {
		return "", err
	}
	return domains.DomainNameFromTemplate(ctx, route.ObjectMeta, name)
}

// ClusterLocal reports whether the Route is labelled
// networking.knative.dev/visibility: cluster-local: reachable from inside
// the cluster only, under the svc.{cluster domain} domain.
func ClusterLocal(route *v1.Route) bool {
	return route.Labels[networking.VisibilityLabelKey] == serving.VisibilityClusterLocal
}

// URL is the Route's URL under tag: the external scheme of config-network,
// or http for cluster-local routes.
func URL(ctx context.Context, route *v1.Route, tag string) (*apis.URL, error) {
	host, err := Host(ctx, route, tag)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if !ClusterLocal(route) {
		scheme = routecfg.FromContext(ctx).Network.DefaultExternalScheme
	}
	return domains.URL(scheme, host), nil
}

// AddressURL is the in-cluster address of the Route: its apex Service.
func AddressURL(route *v1.Route) *apis.URL {
	return &apis.URL{Scheme: "http", Host: network.GetServiceHostname(route.Name, route.Namespace)}
}

// StatusTraffic is status.traffic: each target with its concrete revision
// and, for tagged targets, the tag's URL; configurationName is never shown.
func StatusTraffic(ctx context.Context, route *v1.Route, ts []Target) ([]v1.TrafficTarget, error) {
	out := make([]v1.TrafficTarget, 0, len(ts))
	for _, t := range ts {
		st := v1.TrafficTarget{Tag: t.Tag, RevisionName: t.RevisionName, Percent: t.Percent, LatestRevision: t.LatestRevision}
		if t.Tag != "" {
			u, err := URL(ctx, route, t.Tag)
			if err != nil {
				return nil, err
			}
			st.URL = u
		}
		out = append(out, st)
	}
	return out, nil
}

// Tags lists the distinct tags of the targets, sorted.
func Tags(ts []Target) []string {
	seen := map[string]bool{}
	var tags []string
	for _, t := range ts {
		if t.Tag != "" && !seen[t.Tag] {
			seen[t.Tag] = true
			tags = append(tags, t.Tag)
		}
	}
	sort.Strings(tags)
	return tags
}
