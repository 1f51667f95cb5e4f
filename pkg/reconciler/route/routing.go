package route

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/reconciler/changes"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
)

// syncRoutingState records on Configurations and Revisions which Routes send
// them traffic (serving.knative.dev/routes) and the revisions' routing state
// (active / reserve), which garbage collection and scale-to-zero read.
func (r *Reconciler) syncRoutingState(ctx context.Context, route *v1.Route, served []resources.Target) error {
	routedRevs, routedConfigs, followsLatest := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, t := range served {
		routedRevs[t.RevisionName] = true
		if t.ConfigurationName != "" {
			routedConfigs[t.ConfigurationName] = true
			if t.LatestRevision != nil && *t.LatestRevision {
				followsLatest[t.ConfigurationName] = true
			}
		}
	}

	// Objects to look at: those routed now, and those that recorded this
	// route before (found through the routes index, not by listing the
	// namespace, so a namespace with many Services stays cheap).
	configs := &v1.ConfigurationList{}
	if err := r.Client.List(ctx, configs, client.InNamespace(route.Namespace), client.MatchingFields{RoutesIndex: route.Name}); err != nil {
		return fmt.Errorf("listing the configurations route %s/%s served: %w", route.Namespace, route.Name, err)
	}
	for name := range routedConfigs {
		cfg := &v1.Configuration{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: name}, cfg); err == nil {
			configs.Items = append(configs.Items, *cfg)
			// As in Knative, the latest created revision of a configuration
			// this route follows counts as routed before it is ready: it was
			// created active, and demoting it to reserve until it is ready
			// would drop its min-scale just when it is about to take traffic.
			if latest := cfg.Status.LatestCreatedRevisionName; followsLatest[name] && latest != "" {
				routedRevs[latest] = true
			}
		}
	}
	done := map[string]bool{}
	for i := range configs.Items {
		cfg := &configs.Items[i]
		if done[cfg.Name] {
			continue
		}
		done[cfg.Name] = true
		routes := resources.RoutesWith(cfg.Annotations, route.Name, routedConfigs[cfg.Name])
		if routes == cfg.Annotations[serving.RoutesAnnotationKey] {
			continue
		}
		if err := r.patchMeta(ctx, route, cfg, nil, map[string]*string{serving.RoutesAnnotationKey: orNil(routes)}); err != nil {
			return err
		}
	}

	revs := &v1.RevisionList{}
	if err := r.Client.List(ctx, revs, client.InNamespace(route.Namespace), client.MatchingFields{RoutesIndex: route.Name}); err != nil {
		return fmt.Errorf("listing the revisions route %s/%s served: %w", route.Namespace, route.Name, err)
	}
	for name := range routedRevs {
		rev := &v1.Revision{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: name}, rev); err == nil {
			revs.Items = append(revs.Items, *rev)
		}
	}
	done = map[string]bool{}
	for i := range revs.Items {
		rev := &revs.Items[i]
		if done[rev.Name] {
			continue
		}
		done[rev.Name] = true
		routes := resources.RoutesWith(rev.Annotations, route.Name, routedRevs[rev.Name])
		state := resources.RoutingState(rev, routes)
		if routes == rev.Annotations[serving.RoutesAnnotationKey] && state == rev.GetRoutingState() {
			continue
		}
		changed := rev.DeepCopy()
		changed.SetRoutingState(state, r.Clock.Now())
		labels := map[string]*string{serving.RoutingStateLabelKey: orNil(changed.Labels[serving.RoutingStateLabelKey])}
		anns := map[string]*string{
			serving.RoutesAnnotationKey:               orNil(routes),
			serving.RoutingStateModifiedAnnotationKey: orNil(changed.Annotations[serving.RoutingStateModifiedAnnotationKey]),
		}
		if err := r.patchMeta(ctx, route, rev, labels, anns); err != nil {
			return err
		}
	}
	return nil
}

// RoutesIndex is a field index on Configurations and Revisions: the Routes
// named in their serving.knative.dev/routes annotation.
const RoutesIndex = "csclr.routes"

// RoutesOf is the RoutesIndex function.
func RoutesOf(o client.Object) []string {
	var out []string
	for _, r := range strings.Split(o.GetAnnotations()[serving.RoutesAnnotationKey], ",") {
		if r != "" {
			out = append(out, r)
		}
	}
	return out
}

// patchMeta merge-patches only the given label and annotation keys (nil
// removes a key), so it never races with the owner's own writes.
func (r *Reconciler) patchMeta(ctx context.Context, route *v1.Route, obj client.Object, labels, anns map[string]*string) error {
	meta := map[string]any{}
	if labels != nil {
		meta["labels"] = labels
	}
	if anns != nil {
		meta["annotations"] = anns
	}
	body, _ := json.Marshal(map[string]any{"metadata": meta})
	kind := "Revision"
	if _, ok := obj.(*v1.Configuration); ok {
		kind = "Configuration"
	}
	if err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile: nothing to record
		}
		changes.Warn(r.Recorder, route, obj, changes.ReasonUpdateFailed, "Label", "Failed to update the routing state of %s %q: %v", kind, obj.GetName(), err)
		return fmt.Errorf("recording the routes of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	changes.Normal(r.Recorder, route, obj, changes.ReasonUpdated, "Label", "Updated the routing state of %s %q", kind, obj.GetName())
	return nil
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
