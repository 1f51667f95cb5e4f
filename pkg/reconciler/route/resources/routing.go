package resources

import (
	"sort"
	"strings"

	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// RoutesWith returns the serving.knative.dev/routes annotation value (a
// sorted, comma-separated set) with route added (routed) or removed.
func RoutesWith(annotations map[string]string, route string, routed bool) string {
	set := map[string]bool{}
	for _, r := range strings.Split(annotations[serving.RoutesAnnotationKey], ",") {
		if r != "" {
			set[r] = true
		}
	}
	if routed {
		set[route] = true
	} else {
		delete(set, route)
	}
	list := make([]string, 0, len(set))
	for r := range set {
		list = append(list, r)
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}

// RoutingState is the state a revision should be in once its routes
// annotation is routes: active while any Route sends it traffic; reserve
// once the last one stops (which makes it collectable); a pending revision
// that was never routed stays pending.
func RoutingState(rev *v1.Revision, routes string) v1.RoutingState {
	switch {
	case routes != "":
		return v1.RoutingStateActive
	case rev.GetRoutingState() == v1.RoutingStateActive:
		return v1.RoutingStateReserve
	}
	return rev.GetRoutingState()
}
