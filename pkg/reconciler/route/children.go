package route

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	routecfg "knative.dev/serving/pkg/reconciler/route/config"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/changes"
	"csclr.dev/csclr/pkg/reconciler/children"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
)

var errNotOwned = errors.New("exists and is not owned by the route")

// applyService writes the apex Service and its EndpointSlice, and returns
// the activator's endpoints it gave the slice (the tags' slices get them
// too) and the Service's cluster IPs.
func (r *Reconciler) applyService(ctx context.Context, route *v1.Route, written *changes.Log) (activator []discoveryv1.Endpoint, ips []string, err error) {
	activator, err = r.activatorEndpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	ips, err = r.applyServicePair(ctx, route, written, resources.MakeService(route), resources.MakeEndpointSlice(route, activator))
	return activator, ips, err
}

// applyServicePair writes a selectorless Service and its EndpointSlice (the
// apex's, or a tag's) and returns the Service's cluster IPs.
func (r *Reconciler) applyServicePair(ctx context.Context, route *v1.Route, written *changes.Log, svc *corev1.Service, slice *discoveryv1.EndpointSlice) ([]string, error) {
	have := &corev1.Service{}
	if err := apply(r, ctx, route, written, svc, have, func(have, want *corev1.Service) bool {
		same := sameMeta(have, want) && have.Spec.Type == want.Spec.Type &&
			equality.Semantic.DeepEqual(have.Spec.Ports, want.Spec.Ports) && len(have.Spec.Selector) == 0
		have.Spec.Type, have.Spec.Ports, have.Spec.Selector = want.Spec.Type, want.Spec.Ports, nil
		return !same
	}); err != nil {
		if errors.Is(err, errNotOwned) {
			route.Status.MarkServiceNotOwned(svc.Name)
		}
		return nil, err
	}
	if err := apply(r, ctx, route, written, slice, &discoveryv1.EndpointSlice{}, syncEndpointSlice); err != nil {
		if errors.Is(err, errNotOwned) {
			route.Status.MarkEndpointNotOwned(slice.Name)
		}
		return nil, err
	}
	if have.Name == "" { // created: the API server's answer is in svc
		have = svc
	}
	return clusterIPs(have), nil
}

// clusterIPs are the addresses the API server gave svc.
func clusterIPs(svc *corev1.Service) []string {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []string
	for _, ip := range ips {
		if ip != "" && ip != corev1.ClusterIPNone {
			out = append(out, ip)
		}
	}
	return out
}

func syncEndpointSlice(have, want *discoveryv1.EndpointSlice) bool {
	same := sameMeta(have, want) && equality.Semantic.DeepEqual(have.Endpoints, want.Endpoints) &&
		equality.Semantic.DeepEqual(have.Ports, want.Ports)
	have.Endpoints, have.Ports = want.Endpoints, want.Ports
	return !same
}

// activatorEndpoints are the endpoints of the activator's Service.
func (r *Reconciler) activatorEndpoints(ctx context.Context) ([]discoveryv1.Endpoint, error) {
	list := &discoveryv1.EndpointSliceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(r.SystemNamespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: revresources.ActivatorService}); err != nil {
		return nil, fmt.Errorf("listing the endpoints of service %s/%s: %w", r.SystemNamespace, revresources.ActivatorService, err)
	}
	var out []discoveryv1.Endpoint
	for _, s := range list.Items {
		if s.AddressType == discoveryv1.AddressTypeIPv4 {
			out = append(out, s.Endpoints...)
		}
	}
	return out, nil
}

// applyRouting writes the HTTPRoute and the Ingress, or removes the Ingress
// of a cluster-local Route (see resources.MakeIngress).
func (r *Reconciler) applyRouting(ctx context.Context, route *v1.Route, written *changes.Log, served []resources.Target, rollout *resources.Rollout, ips []string) error {
	hr := resources.MakeHTTPRoute(ctx, route, served, rollout)
	resources.WithClusterIPs(hr, ips)
	if err := apply(r, ctx, route, written, hr, &gatewayv1.HTTPRoute{}, syncHTTPRoute); err != nil {
		return err
	}
	class := resources.IngressClass(route, routecfg.FromContext(ctx).Network.DefaultIngressClass)
	ing, err := resources.MakeIngress(ctx, route, resources.Tags(served), class)
	if err != nil {
		return fmt.Errorf("route %s/%s: building its ingress: %w", route.Namespace, route.Name, err)
	}
	if ing == nil {
		return r.deleteIngress(ctx, route)
	}
	return apply(r, ctx, route, written, ing, &networkingv1.Ingress{}, func(have, want *networkingv1.Ingress) bool {
		same := sameMeta(have, want) && equality.Semantic.DeepEqual(have.Spec, want.Spec)
		have.Spec = want.Spec
		return !same
	})
}

// applyTags writes each tag's Service, EndpointSlice and HTTPRoute (tags
// maps a tag to their name, resources.TagNames), after deleting those of the
// tags that are gone, so that a tag whose name is taken does not keep the
// objects of removed tags alive.
func (r *Reconciler) applyTags(ctx context.Context, route *v1.Route, written *changes.Log, tags map[string]string, served []resources.Target, activator []discoveryv1.Endpoint) error {
	keep := make(map[string]bool, len(tags))
	for _, name := range tags {
		keep[name] = true
	}
	if err := r.deleteTags(ctx, route, keep); err != nil {
		return err
	}
	for _, tag := range resources.Tags(served) {
		name := tags[tag]
		ips, err := r.applyServicePair(ctx, route, written, resources.MakeTagService(route, tag, name),
			resources.MakeTagEndpointSlice(route, tag, name, activator))
		if err != nil {
			return err
		}
		hr := resources.MakeTagHTTPRoute(route, tag, name, served)
		resources.WithClusterIPs(hr, ips)
		if err := apply(r, ctx, route, written, hr, &gatewayv1.HTTPRoute{}, syncHTTPRoute); err != nil {
			return err
		}
	}
	return nil
}

// resyncTagSlices gives the EndpointSlices of the Route's tags the
// activator's endpoints, when the traffic cannot be programmed (applyTags
// does it otherwise): the tags served so far keep being served, through
// activator pods that may have moved.
func (r *Reconciler) resyncTagSlices(ctx context.Context, route *v1.Route, written *changes.Log, activator []discoveryv1.Endpoint) error {
	list := &discoveryv1.EndpointSliceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(route.Namespace),
		client.MatchingLabels{serving.RouteLabelKey: route.Name}, client.HasLabels{resources.TagLabelKey}); err != nil {
		return fmt.Errorf("listing the EndpointSlices of route %s/%s's tags: %w", route.Namespace, route.Name, err)
	}
	for i := range list.Items {
		s := &list.Items[i]
		if s.Name == names.RouteEndpointSlice(route.Name) || !metav1.IsControlledBy(s, route) {
			continue
		}
		want := resources.MakeTagEndpointSlice(route, s.Labels[resources.TagLabelKey], s.Name, activator)
		if err := apply(r, ctx, route, written, want, &discoveryv1.EndpointSlice{}, syncEndpointSlice); err != nil {
			return err
		}
	}
	return nil
}

// deleteTags deletes the tag objects (labelled with the Route and
// resources.TagLabelKey) the Route controls whose name is not in keep. The
// cache holds them all (the labels that put the apex objects there are on
// them too), so a Route without stale tags costs no API request. Objects
// the Route does not control are left alone, whatever their labels.
func (r *Reconciler) deleteTags(ctx context.Context, route *v1.Route, keep map[string]bool) error {
	for _, l := range []struct {
		kind string
		list client.ObjectList
	}{
		// The HTTPRoute first: Linkerd stops routing to a Service that is
		// about to go.
		{"HTTPRoute", &gatewayv1.HTTPRouteList{}},
		{"Service", &corev1.ServiceList{}},
		{"EndpointSlice", &discoveryv1.EndpointSliceList{}},
	} {
		if err := r.Client.List(ctx, l.list, client.InNamespace(route.Namespace),
			client.MatchingLabels{serving.RouteLabelKey: route.Name}, client.HasLabels{resources.TagLabelKey}); err != nil {
			return fmt.Errorf("listing the %ss of route %s/%s's tags: %w", l.kind, route.Namespace, route.Name, err)
		}
		err := apimeta.EachListItem(l.list, func(o runtime.Object) error {
			obj := o.(client.Object)
			if keep[obj.GetName()] || obj.GetName() == names.RouteService(route.Name) || !metav1.IsControlledBy(obj, route) {
				return nil
			}
			// The UID precondition spares an object recreated meanwhile.
			uid := obj.GetUID()
			err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid})
			if client.IgnoreNotFound(err) != nil {
				changes.DeleteFailed(r.Recorder, route, l.kind, obj, err)
				return fmt.Errorf("deleting %s %s/%s of route %s's tag %q: %w", l.kind, obj.GetNamespace(), obj.GetName(), route.Name, obj.GetLabels()[resources.TagLabelKey], err)
			}
			if err == nil {
				changes.Deleted(r.Recorder, route, l.kind, obj, "no tag of the route has this name now")
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func syncHTTPRoute(have, want *gatewayv1.HTTPRoute) bool {
	same := sameMeta(have, want) && equality.Semantic.DeepEqual(have.Spec, want.Spec)
	have.Spec = want.Spec
	return !same
}

// deleteIngress removes the Ingress the Route owns, if there is one: the
// Route is cluster-local now (or was made by an older csclr that gave
// cluster-local Routes an Ingress), and an Ingress would publish it. One the
// Route does not control is not csclr's to remove. The cache is enough: the
// Ingresses csclr writes carry the route label it caches by.
func (r *Reconciler) deleteIngress(ctx context.Context, route *v1.Route) error {
	ing := &networkingv1.Ingress{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: names.Ingress(route.Name)}, ing)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ingress %s/%s: %w", route.Namespace, names.Ingress(route.Name), err)
	}
	if !metav1.IsControlledBy(ing, route) {
		return nil
	}
	// The UID precondition spares an Ingress recreated meanwhile by someone else.
	err = r.Client.Delete(ctx, ing, client.Preconditions{UID: &ing.UID})
	if client.IgnoreNotFound(err) != nil {
		changes.DeleteFailed(r.Recorder, route, "Ingress", ing, err)
		return fmt.Errorf("deleting ingress %s/%s of cluster-local route %s: %w", ing.Namespace, ing.Name, route.Name, err)
	}
	if err == nil {
		changes.Deleted(r.Recorder, route, "Ingress", ing, "the route is cluster-local")
	}
	return nil
}

// apply creates want, or updates the existing object through sync (which
// copies want's fields into have and reports whether anything changed).
// Labels and annotations are replaced, so keys removed upstream go away.
// Writes are noted in written (one event per reconcile); failures are
// recorded at once.
//
// The cache holds only children with csclr's labels: one it does not show
// may still exist (a user removed its label), which the create finds out;
// it is then read without the cache and, if it is the Route's, updated
// back to want, labels included (children.CreateOrRead).
func apply[T client.Object](r *Reconciler, ctx context.Context, route *v1.Route, written *changes.Log, want, have T, sync func(have, want T) bool) error {
	kind := fmt.Sprintf("%T", want)
	kind = kind[strings.LastIndex(kind, ".")+1:] // *v1.HTTPRoute → HTTPRoute
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		created, err := children.CreateOrRead(ctx, r.Client, r.apiReader(), want, have)
		if err != nil {
			changes.CreationFailed(r.Recorder, route, kind, want, err)
			return fmt.Errorf("creating %s %s/%s for route %s: %w", kind, want.GetNamespace(), want.GetName(), route.Name, err)
		}
		if created {
			written.Created(kind, want)
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("reading %s %s/%s: %w", kind, want.GetNamespace(), want.GetName(), err)
	}
	if !metav1.IsControlledBy(have, route) {
		return fmt.Errorf("%s %s/%s %w %s: delete it or rename the route", kind, have.GetNamespace(), have.GetName(), errNotOwned, route.Name)
	}
	if !sync(have, want) {
		return nil
	}
	have.SetLabels(want.GetLabels())
	have.SetAnnotations(want.GetAnnotations())
	if err := r.Client.Update(ctx, have); err != nil {
		changes.UpdateFailed(r.Recorder, route, kind, have, err)
		return fmt.Errorf("updating %s %s/%s for route %s: %w", kind, have.GetNamespace(), have.GetName(), route.Name, err)
	}
	written.Updated(kind, have)
	return nil
}

func sameMeta(have, want metav1.Object) bool {
	return equality.Semantic.DeepEqual(nilIfEmpty(have.GetLabels()), nilIfEmpty(want.GetLabels())) &&
		equality.Semantic.DeepEqual(nilIfEmpty(have.GetAnnotations()), nilIfEmpty(want.GetAnnotations()))
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
