// Package names is the one place where the names of the objects csclr
// generates are made, so that no name is built twice (Knative's names where
// Knative has them: knative-contract.md, 1.6).
package names

import "knative.dev/pkg/kmeta"

// Revision-owned objects.

// Deployment is the name of a revision's Deployment.
func Deployment(revision string) string { return kmeta.ChildName(revision, "-deployment") }

// PrivateService is the name of the Service selecting a revision's pods.
func PrivateService(revision string) string { return kmeta.ChildName(revision, "-private") }

// PublicService is the name of the selectorless Service (and its
// EndpointSlice's owner) that routes to a revision's pods or the activator.
func PublicService(revision string) string { return revision }

// ScaledObject is the name of a revision's KEDA ScaledObject.
func ScaledObject(revision string) string { return revision }

// Route-owned objects.

// RouteService is the name of a Route's apex (ClusterIP) Service.
func RouteService(route string) string { return route }

// HTTPRoute is the name of a Route's Gateway API HTTPRoute.
func HTTPRoute(route string) string { return route }

// Ingress is the name of a Route's Ingress.
func Ingress(route string) string { return route }

// PublicEndpointSlice is the name of the EndpointSlice the controller keeps
// for a revision's selectorless public Service.
func PublicEndpointSlice(revision string) string { return revision }

// RouteFinalizer holds a Route until the routing state it recorded on
// Configurations and Revisions is cleared (Knative's name).
const RouteFinalizer = "routes.serving.knative.dev"

// ManagedBy is the value of the standard endpointslice.kubernetes.io/managed-by
// label on the EndpointSlices csclr's controller writes, and of
// csclr.dev/managed-by on its Services. A label value may not hold a slash,
// so not "csclr.dev/controller".
const ManagedBy = "controller.csclr.dev"
