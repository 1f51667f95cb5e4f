//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
)

func TestRouteEvents(t *testing.T) {
	runEventCases(t, []eventCase{{
		// The Service's Configuration and its revisions are born with the
		// routing state, so the Route does not write it here.
		name: "a new Route's children",
		act:  func(t *testing.T, ns string) { readyService(t, ns, "s") },
		want: []eventOn{
			normal("Route", "s", "Created", `Service "s"`),
			normal("Route", "s", "Created", `EndpointSlice "s"`),
			normal("Route", "s", "Created", `HTTPRoute "s"`),
			normal("Route", "s", "Created", `Ingress "s"`),
		},
		quiet: true,
	}, {
		name: "traffic moved",
		act: func(t *testing.T, ns string) {
			newImage(t, readyService(t, ns, "s"), "example.com/app:v2", "s-00002")
		},
		want: []eventOn{
			normal("Route", "s", "Updated", `Updated HTTPRoute "s"`),
			// s-00001 is no longer routed: reserve.
			normal("Route", "s", "Updated", `Updated the routing state of Revision "s-00001"`),
		},
		quiet: true,
	}, {
		name: "Ingress refused",
		act: func(t *testing.T, ns string) {
			refuse(t, ns, "networking.k8s.io", []string{"ingresses"}, create)
			createService(t, ns, "s")
			markReady(t, ns, "s-00001")
		},
		want: []eventOn{warning("Route", "s", "CreationFailed", `Failed to create Ingress "s"`, "refused by the test")},
	}, {
		name: "HTTPRoute update refused",
		act: func(t *testing.T, ns string) {
			svc := readyService(t, ns, "s")
			refuse(t, ns, "gateway.networking.k8s.io", []string{"httproutes"}, updateOp)
			newImage(t, svc, "example.com/app:v2", "s-00002")
		},
		want: []eventOn{warning("Route", "s", "UpdateFailed", `Failed to update HTTPRoute "s"`, "refused by the test")},
	}, {
		name: "routing state refused",
		act: func(t *testing.T, ns string) {
			svc := readyService(t, ns, "s")
			// Revisions' metadata, not their status (markReady).
			refuse(t, ns, servingGroup, []string{"revisions"}, updateOp)
			newImage(t, svc, "example.com/app:v2", "s-00002")
		},
		want: []eventOn{warning("Route", "s", "UpdateFailed",
			`Failed to update the routing state of Revision "s-00001"`, "refused by the test")},
	}, {
		name:  "finalizer of a Route of its own",
		act:   func(t *testing.T, ns string) { createRoute(t, ns, "r") },
		want:  []eventOn{normal("Route", "r", "FinalizerUpdate", `Updated "r" finalizers`)},
		quiet: true,
	}, {
		name: "finalizer refused",
		act: func(t *testing.T, ns string) {
			refuse(t, ns, servingGroup, []string{"routes"}, updateOp)
			createRoute(t, ns, "r")
		},
		want: []eventOn{warning("Route", "r", "FinalizerUpdateFailed", `Failed to update finalizers for "r"`, "refused by the test")},
	}})
}

// A Route's finalizer is removed on deletion with a second FinalizerUpdate,
// recorded on the Route as it goes.
func TestRouteFinalizerRemovedEvent(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	route := createRoute(t, ns, "r")
	testenv.WaitEvent(t, k8s, route, testenv.WantEvent{Type: corev1.EventTypeNormal, Reason: "FinalizerUpdate"}, 20*time.Second)
	if err := k8s.Delete(ctx, route); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Route gone, with a FinalizerUpdate event for each write", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(route), &v1.Route{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("route still there (%v)", err)
		}
		evs, err := testenv.EventsAbout(ctx, k8s, route)
		if err != nil {
			return err
		}
		n := 0
		for _, e := range evs {
			if e.Reason == "FinalizerUpdate" {
				n++
				if e.Series != nil {
					n += int(e.Series.Count) - 1
				}
			}
		}
		if n != 2 {
			return fmt.Errorf("%d FinalizerUpdate events, want 2 (added, removed)", n)
		}
		return nil
	})
}

// createRoute creates a Route of its own (no Service), sending its traffic
// to a Configuration that does not exist, and reads it back.
func createRoute(t *testing.T, ns, name string) *v1.Route {
	t.Helper()
	route := &v1.Route{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{{
			ConfigurationName: "missing", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100),
		}}},
	}
	if err := k8s.Create(context.Background(), route); err != nil {
		t.Fatal(err)
	}
	return route
}
