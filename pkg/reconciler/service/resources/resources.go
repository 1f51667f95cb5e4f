// Package resources builds the Configuration and Route a Knative Service
// owns, and decides whether the Route has caught up with the Service.
package resources

import (
	"sort"
	"strings"

	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"
	"knative.dev/pkg/kmp"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
)

// MakeConfiguration builds the Configuration the Service owns. existing (may
// be nil) is the Configuration in the cluster: the set of routes recorded in
// its serving.knative.dev/routes annotation is kept.
func MakeConfiguration(svc *v1.Service, existing *v1.Configuration) *v1.Configuration {
	anns := filter(svc.Annotations, append([]string{corev1.LastAppliedConfigAnnotation}, serving.RolloutDurationAnnotation...)...)
	routes := map[string]bool{names.Route(svc.Name): true}
	if existing != nil {
		for _, r := range strings.Split(existing.Annotations[serving.RoutesAnnotationKey], ",") {
			if r != "" {
				routes[r] = true
			}
		}
	}
	anns[serving.RoutesAnnotationKey] = joinSorted(routes)

	return &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Configuration(svc.Name),
			Namespace:       svc.Namespace,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(svc)},
			Labels: kmeta.UnionMaps(svc.Labels, map[string]string{
				serving.ServiceLabelKey:    svc.Name,
				serving.ServiceUIDLabelKey: string(svc.UID),
			}),
			Annotations: anns,
		},
		Spec: *svc.Spec.ConfigurationSpec.DeepCopy(),
	}
}

// MakeRoute builds the Route the Service owns: the Service's traffic, with
// every target that names no revision following the Service's Configuration.
// Unlike the Configuration, the Route keeps rollout-duration: it drives the
// Route's gradual rollout.
func MakeRoute(svc *v1.Service) *v1.Route {
	route := &v1.Route{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Route(svc.Name),
			Namespace:       svc.Namespace,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(svc)},
			Labels:          kmeta.UnionMaps(svc.Labels, map[string]string{serving.ServiceLabelKey: svc.Name}),
			Annotations:     filter(svc.Annotations, corev1.LastAppliedConfigAnnotation),
			// Born with the Route reconciler's finalizer, which would
			// otherwise cost a write (and two admission calls) per Route.
			Finalizers: []string{names.RouteFinalizer},
		},
		Spec: *svc.Spec.RouteSpec.DeepCopy(),
	}
	for i := range route.Spec.Traffic {
		if route.Spec.Traffic[i].RevisionName == "" {
			route.Spec.Traffic[i].ConfigurationName = names.Configuration(svc.Name)
		}
	}
	return route
}

// MetaAndSpecEqual reports whether the labels, annotations and spec of two
// objects of the same kind agree (nil and empty maps are equal).
func MetaAndSpecEqual(want, got metav1.Object, wantSpec, gotSpec any) bool {
	return equality.Semantic.DeepEqual(emptyToNil(want.GetLabels()), emptyToNil(got.GetLabels())) &&
		equality.Semantic.DeepEqual(emptyToNil(want.GetAnnotations()), emptyToNil(got.GetAnnotations())) &&
		equality.Semantic.DeepEqual(wantSpec, gotSpec)
}

// RouteCaughtUp reports whether the Route serves what its spec asks for,
// with the Configuration's targets resolved to its latest ready revision;
// until then the Service is not ready even if the Route says it is.
func RouteCaughtUp(config *v1.Configuration, route *v1.Route) bool {
	if len(route.Spec.Traffic) != len(route.Status.Traffic) {
		return false
	}
	want := route.Spec.DeepCopy().Traffic
	for i := range want {
		if want[i].ConfigurationName == config.Name {
			want[i].RevisionName = config.Status.LatestReadyRevisionName
			want[i].ConfigurationName = ""
		}
	}
	ignore := cmpopts.IgnoreFields(v1.TrafficTarget{}, "URL", "LatestRevision")
	diff, err := kmp.SafeDiff(route.Status.Traffic, want, ignore)
	return err == nil && diff == ""
}

func filter(in map[string]string, drop ...string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

func joinSorted(set map[string]bool) string {
	list := make([]string, 0, len(set))
	for k := range set {
		list = append(list, k)
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}

func emptyToNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
