//go:build integration

package controller_test

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
)

// The events the Service, Configuration and Route reconcilers record on the
// objects whose children they write, as Knative's reconcilers name them
// (pkg/reconciler/EVENTS.md). Failures come from an admission policy that
// refuses the write (testenv.Refuse), as a webhook or a quota would.

const (
	servingGroup = "serving.knative.dev"
	create       = admissionregistrationv1.Create
	updateOp     = admissionregistrationv1.Update
	deleteOp     = admissionregistrationv1.Delete
)

// eventOn is an event a case expects on the kind's object of that name in
// the case's namespace.
type eventOn struct {
	kind, name string
	testenv.WantEvent
}

func normal(kind, name, reason string, note ...string) eventOn {
	return eventOn{kind, name, testenv.WantEvent{Type: corev1.EventTypeNormal, Reason: reason, Note: note}}
}

func warning(kind, name, reason string, note ...string) eventOn {
	return eventOn{kind, name, testenv.WantEvent{Type: corev1.EventTypeWarning, Reason: reason, Note: note}}
}

type eventCase struct {
	name string
	// gc is config-gc during the case, if set.
	gc map[string]string
	// act writes the case's objects in ns (and refuses what it must).
	act  func(t *testing.T, ns string)
	want []eventOn
	// quiet: no Warning from the reconcilers in the namespace (otherwise
	// there must be some).
	quiet bool
}

func runEventCases(t *testing.T, cases []eventCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := namespace(t)
			if tc.gc != nil {
				configMap(t, "config-gc", tc.gc)
			}
			tc.act(t, ns)
			for _, w := range tc.want {
				testenv.WaitEvent(t, k8s, object(t, w.kind, ns, w.name), w.WantEvent, 20*time.Second)
			}
			// The reconcilers' warnings only: the apiserver has its own.
			warnings, err := testenv.Warnings(context.Background(), k8s, ns,
				"service-controller", "configuration-controller", "route-controller")
			if err != nil || tc.quiet != (len(warnings) == 0) {
				t.Errorf("warnings in %s: %q (%v), want some: %t", ns, warnings, err, !tc.quiet)
			}
		})
	}
}

func object(t *testing.T, kind, ns, name string) client.Object {
	meta := metav1.ObjectMeta{Namespace: ns, Name: name}
	switch kind {
	case "Service":
		return &v1.Service{ObjectMeta: meta}
	case "Configuration":
		return &v1.Configuration{ObjectMeta: meta}
	case "Route":
		return &v1.Route{ObjectMeta: meta}
	}
	t.Fatalf("no events expected on a %s", kind)
	return nil
}

// refuse makes the apiserver refuse ops on the resources of group in ns.
func refuse(t *testing.T, ns, group string, resources []string, ops ...admissionregistrationv1.OperationType) {
	t.Helper()
	testenv.Refuse(t, k8s, ns, group, resources, ops...)
}

// createService creates Service name with image v1 and returns it.
func createService(t *testing.T, ns, name string) *v1.Service {
	t.Helper()
	svc := ksvc(ns, name, "example.com/app:v1")
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

// readyService creates Service name and makes its first revision ready.
func readyService(t *testing.T, ns, name string) *v1.Service {
	t.Helper()
	svc := createService(t, ns, name)
	get(t, ns, name+"-00001", &v1.Revision{})
	markReady(t, ns, name+"-00001")
	waitServiceCondition(t, ns, name, apis.ConditionReady, corev1.ConditionTrue, "")
	return svc
}

// newImage moves Service svc to image and makes revision rev ready.
func newImage(t *testing.T, svc *v1.Service, image, rev string) {
	t.Helper()
	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = image })
	get(t, svc.Namespace, rev, &v1.Revision{})
	markReady(t, svc.Namespace, rev)
}

// gcEverything is a config-gc that collects every revision no Route routes.
var gcEverything = map[string]string{
	"retain-since-create-time":      "disabled",
	"retain-since-last-active-time": "disabled",
	"min-non-active-revisions":      "0",
	"max-non-active-revisions":      "0",
}

func TestServiceAndConfigurationEvents(t *testing.T) {
	runEventCases(t, []eventCase{{
		name: "a new Service's children",
		act:  func(t *testing.T, ns string) { readyService(t, ns, "s") },
		want: []eventOn{
			normal("Service", "s", "Created", `Configuration "s"`),
			normal("Service", "s", "Created", `Route "s"`),
			normal("Configuration", "s", "Created", `Created Revision "s-00001"`),
			normal("Configuration", "s", "ConfigurationReady"),
			normal("Configuration", "s", "LatestReadyUpdate", `"s-00001"`),
		},
		quiet: true,
	}, {
		name: "a changed Service's children",
		act: func(t *testing.T, ns string) {
			svc := readyService(t, ns, "s")
			newImage(t, svc, "example.com/app:v2", "s-00002")
			update(t, svc, func(s *v1.Service) {
				s.Spec.Traffic = []v1.TrafficTarget{{Tag: "current", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
			})
		},
		want: []eventOn{
			normal("Service", "s", "Updated", `Updated Configuration "s"`),
			normal("Service", "s", "Updated", `Updated Route "s"`),
			normal("Configuration", "s", "Created", `Created Revision "s-00002"`),
			normal("Configuration", "s", "LatestReadyUpdate", `"s-00002"`),
		},
		quiet: true,
	}, {
		name: "Configuration refused",
		act: func(t *testing.T, ns string) {
			refuse(t, ns, servingGroup, []string{"configurations"}, create)
			createService(t, ns, "s")
		},
		want: []eventOn{warning("Service", "s", "CreationFailed", `Failed to create Configuration "s"`, "refused by the test")},
	}, {
		name: "Route refused",
		act: func(t *testing.T, ns string) {
			refuse(t, ns, servingGroup, []string{"routes"}, create)
			createService(t, ns, "s")
		},
		want: []eventOn{warning("Service", "s", "CreationFailed", `Failed to create Route "s"`, "refused by the test")},
	}, {
		name: "Configuration update refused",
		act: func(t *testing.T, ns string) {
			svc := createService(t, ns, "s")
			get(t, ns, "s", &v1.Configuration{})
			refuse(t, ns, servingGroup, []string{"configurations"}, updateOp)
			update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/app:v2" })
		},
		want: []eventOn{warning("Service", "s", "UpdateFailed", `Failed to update Configuration "s"`, "refused by the test")},
	}, {
		name: "Route update refused",
		act: func(t *testing.T, ns string) {
			svc := createService(t, ns, "s")
			get(t, ns, "s", &v1.Route{})
			refuse(t, ns, servingGroup, []string{"routes"}, updateOp)
			update(t, svc, func(s *v1.Service) {
				s.Spec.Traffic = []v1.TrafficTarget{{Tag: "current", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
			})
		},
		want: []eventOn{warning("Service", "s", "UpdateFailed", `Failed to update Route "s"`, "refused by the test")},
	}, {
		name: "status writes refused",
		act: func(t *testing.T, ns string) {
			refuse(t, ns, servingGroup, []string{"services/status", "configurations/status", "routes/status"}, updateOp)
			createService(t, ns, "s")
		},
		want: []eventOn{
			warning("Service", "s", "UpdateFailed", `Failed to update status for "s"`, "refused by the test"),
			warning("Configuration", "s", "UpdateFailed", `Failed to update status for "s"`, "refused by the test"),
			warning("Route", "s", "UpdateFailed", `Failed to update status for "s"`, "refused by the test"),
		},
	}, {
		name: "Revision refused",
		act: func(t *testing.T, ns string) {
			refuse(t, ns, servingGroup, []string{"revisions"}, create)
			createService(t, ns, "s")
		},
		want: []eventOn{warning("Configuration", "s", "CreationFailed", `Failed to create Revision "s-00001"`, "refused by the test")},
	}, {
		name: "a revision garbage collected",
		gc:   gcEverything,
		act: func(t *testing.T, ns string) {
			newImage(t, readyService(t, ns, "s"), "example.com/app:v2", "s-00002")
		},
		want:  []eventOn{normal("Configuration", "s", "Deleted", `Deleted Revision "s-00001"`, "garbage collected")},
		quiet: true,
	}, {
		name: "garbage collection refused",
		gc:   gcEverything,
		act: func(t *testing.T, ns string) {
			refuse(t, ns, servingGroup, []string{"revisions"}, deleteOp)
			newImage(t, readyService(t, ns, "s"), "example.com/app:v2", "s-00002")
		},
		want: []eventOn{warning("Configuration", "s", "DeleteFailed", `Failed to delete Revision "s-00001"`, "refused by the test")},
	}})
}
