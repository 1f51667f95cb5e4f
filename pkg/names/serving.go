package names

import (
	"fmt"

	"knative.dev/pkg/kmeta"
)

// Service-owned objects (Knative: same name as the Service).

// Configuration is the name of the Configuration a Service owns.
func Configuration(service string) string { return service }

// Route is the name of the Route a Service owns.
func Route(service string) string { return service }

// Revision is the generated name of the Revision a Configuration stamps out
// for its generation (when the template names none).
func Revision(configuration string, generation int64) string {
	return kmeta.ChildName(configuration, fmt.Sprintf("-%05d", generation))
}

// RouteEndpointSlice is the name of the EndpointSlice that gives a Route's
// selectorless apex Service the activator's endpoints.
func RouteEndpointSlice(route string) string { return route }
