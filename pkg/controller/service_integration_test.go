//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func controlledBy(t *testing.T, obj client.Object, kind, name string) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != kind || ref.Name != name || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("%T %s: controller ref = %+v, want %s %s with blockOwnerDeletion", obj, obj.GetName(), ref, kind, name)
	}
}

func TestCreateReady(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "hello")
	ctx := context.Background()
	svc := ksvc(ns, "hello", "example.com/hello:v1")
	svc.Labels = map[string]string{"team": "blue"}
	if err := k8s.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}

	cfg := get(t, ns, "hello", &v1.Configuration{})
	controlledBy(t, cfg, "Service", "hello")
	if cfg.Labels[serving.ServiceLabelKey] != "hello" || cfg.Labels["team"] != "blue" {
		t.Errorf("configuration labels = %v", cfg.Labels)
	}
	route := get(t, ns, "hello", &v1.Route{})
	controlledBy(t, route, "Service", "hello")
	rev := get(t, ns, "hello-00001", &v1.Revision{})
	controlledBy(t, rev, "Configuration", "hello")
	for k, want := range map[string]string{
		serving.ConfigurationLabelKey:           "hello",
		serving.ConfigurationGenerationLabelKey: "1",
		serving.ServiceLabelKey:                 "hello",
		serving.ConfigurationUIDLabelKey:        string(cfg.UID),
	} {
		if rev.Labels[k] != want {
			t.Errorf("revision label %s = %q, want %q", k, rev.Labels[k], want)
		}
	}
	if _, ok := rev.Labels["team"]; ok {
		t.Error("configuration label team was copied onto the revision")
	}

	// Not ready before the revision is.
	waitServiceCondition(t, ns, "hello", apis.ConditionReady, corev1.ConditionUnknown, "")

	markReady(t, ns, "hello-00001")
	got := waitServiceCondition(t, ns, "hello", apis.ConditionReady, corev1.ConditionTrue, "")
	if got.Status.URL.String() != "http://hello."+ns+".svc.cluster.local" {
		t.Errorf("url = %v", got.Status.URL)
	}
	if got.Status.Address == nil || got.Status.Address.URL.String() != "http://hello."+ns+".svc.cluster.local" {
		t.Errorf("address = %+v", got.Status.Address)
	}
	if got.Status.LatestCreatedRevisionName != "hello-00001" || got.Status.LatestReadyRevisionName != "hello-00001" {
		t.Errorf("latest created/ready = %s/%s", got.Status.LatestCreatedRevisionName, got.Status.LatestReadyRevisionName)
	}
	if len(got.Status.Traffic) != 1 || got.Status.Traffic[0].RevisionName != "hello-00001" || *got.Status.Traffic[0].Percent != 100 {
		t.Errorf("traffic = %+v", got.Status.Traffic)
	}

	// The Route's children, with the propagated labels and owner.
	apex := get(t, ns, "hello", &corev1.Service{})
	controlledBy(t, apex, "Route", "hello")
	if apex.Labels[serving.RouteLabelKey] != "hello" || apex.Labels[serving.ServiceLabelKey] != "hello" || apex.Labels["team"] != "blue" {
		t.Errorf("apex service labels = %v", apex.Labels)
	}
	if apex.Spec.Type != corev1.ServiceTypeClusterIP || apex.Spec.Selector != nil || len(apex.Spec.Ports) != 2 {
		t.Errorf("apex service spec = %+v", apex.Spec)
	}
	get(t, ns, "hello", &discoveryv1.EndpointSlice{})
	hr := get(t, ns, "hello", &gatewayv1.HTTPRoute{})
	controlledBy(t, hr, "Route", "hello")
	if n := len(hr.Spec.Rules); n != 1 || hr.Spec.Rules[0].BackendRefs[0].Name != "hello-00001" {
		t.Errorf("httproute rules = %+v", hr.Spec.Rules)
	}
	ing := get(t, ns, "hello", &networkingv1.Ingress{})
	if *ing.Spec.IngressClassName != "csclr" {
		t.Errorf("ingress class = %s", *ing.Spec.IngressClassName)
	}
	rev = get(t, ns, "hello-00001", &v1.Revision{})
	if rev.GetRoutingState() != v1.RoutingStateActive {
		t.Errorf("routing state = %q, want active", rev.GetRoutingState())
	}
}

func TestUpdateImageAndTemplateMetadata(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "hello")
	svc := ksvc(ns, "hello", "example.com/hello:v1")
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "hello-00001", &v1.Revision{})
	markReady(t, ns, "hello-00001")
	waitServiceCondition(t, ns, "hello", apis.ConditionReady, corev1.ConditionTrue, "")

	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/hello:v2" })
	rev := get(t, ns, "hello-00002", &v1.Revision{})
	if rev.Labels[serving.ConfigurationGenerationLabelKey] != "2" || rev.Spec.Containers[0].Image != "example.com/hello:v2" {
		t.Errorf("revision 2: labels %v image %s", rev.Labels, rev.Spec.Containers[0].Image)
	}
	// Until hello-00002 is ready, traffic stays on hello-00001.
	// The Service reports the new generation (ConfigurationsReady Unknown)
	// before the Configuration's latestCreated reaches it: poll.
	eventually(t, "latest created hello-00002, latest ready hello-00001", func() error {
		got := waitServiceCondition(t, ns, "hello", v1.ServiceConditionConfigurationsReady, corev1.ConditionUnknown, "")
		if got.Status.LatestCreatedRevisionName != "hello-00002" || got.Status.LatestReadyRevisionName != "hello-00001" {
			return fmt.Errorf("latest created/ready = %s/%s", got.Status.LatestCreatedRevisionName, got.Status.LatestReadyRevisionName)
		}
		return nil
	})
	markReady(t, ns, "hello-00002")
	eventually(t, "traffic moves to hello-00002", func() error {
		s := waitServiceCondition(t, ns, "hello", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 1 || s.Status.Traffic[0].RevisionName != "hello-00002" {
			return fmt.Errorf("traffic = %+v", s.Status.Traffic)
		}
		return nil
	})

	// Template metadata is a template change; Configuration metadata is not
	// copied onto revisions.
	update(t, svc, func(s *v1.Service) {
		s.Spec.Template.Annotations = map[string]string{"example.com/template": "yes"}
	})
	rev = get(t, ns, "hello-00003", &v1.Revision{})
	if rev.Annotations["example.com/template"] != "yes" {
		t.Errorf("revision 3 annotations = %v", rev.Annotations)
	}
	cfg := get(t, ns, "hello", &v1.Configuration{})
	update(t, cfg, func(c *v1.Configuration) {
		// Written directly (as a user could); the Service reconciler puts the
		// Service's metadata back, and revisions never see it.
		c.Labels["config-only"] = "x"
	})
	rev = get(t, ns, "hello-00003", &v1.Revision{})
	if _, ok := rev.Labels["config-only"]; ok {
		t.Error("configuration label copied onto the revision")
	}
}

func TestFailedRevision(t *testing.T) {
	ns := namespace(t)
	if err := k8s.Create(context.Background(), ksvc(ns, "broken", "example.com/nope:v1")); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "broken-00001", &v1.Revision{})
	markFailed(t, ns, "broken-00001")
	// Ready takes the reason of the last failing dependent (the Route's
	// RevisionMissing, as in Knative); its message must say what failed.
	got := waitServiceCondition(t, ns, "broken", apis.ConditionReady, corev1.ConditionFalse, "")
	if c := got.Status.GetCondition(apis.ConditionReady); c.Message == "" {
		t.Errorf("Ready=False without a message: %+v", c)
	}
	if c := got.Status.GetCondition(v1.ServiceConditionConfigurationsReady); c == nil || c.Reason != "RevisionFailed" || c.Message == "" {
		t.Errorf("service ConfigurationsReady = %+v, want False/RevisionFailed with a message", c)
	}
	cfg := get(t, ns, "broken", &v1.Configuration{})
	if c := cfg.Status.GetCondition(apis.ConditionReady); c == nil || c.Reason != "RevisionFailed" || c.Message == "" {
		t.Errorf("configuration Ready = %+v", c)
	}
}

func TestBYORevisionName(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "byo")
	svc := ksvc(ns, "byo", "example.com/byo:v1")
	svc.Spec.Template.Name = "byo-blue"
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	rev := get(t, ns, "byo-blue", &v1.Revision{})
	controlledBy(t, rev, "Configuration", "byo")
	markReady(t, ns, "byo-blue")
	waitServiceCondition(t, ns, "byo", apis.ConditionReady, corev1.ConditionTrue, "")

	// Changing the image without a new name: the name is taken.
	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/byo:v2" })
	waitServiceCondition(t, ns, "byo", v1.ServiceConditionRoutesReady, corev1.ConditionFalse, "RevisionNameTaken")

	// A new name makes a new revision and moves traffic to it.
	update(t, svc, func(s *v1.Service) { s.Spec.Template.Name = "byo-green" })
	get(t, ns, "byo-green", &v1.Revision{})
	markReady(t, ns, "byo-green")
	eventually(t, "traffic on byo-green", func() error {
		s := waitServiceCondition(t, ns, "byo", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 1 || s.Status.Traffic[0].RevisionName != "byo-green" {
			return fmt.Errorf("traffic = %+v", s.Status.Traffic)
		}
		return nil
	})

	// A name held by a revision of another configuration is taken too.
	other := ksvc(ns, "other", "example.com/other:v1")
	other.Spec.Template.Name = "byo-green"
	if err := k8s.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	waitServiceCondition(t, ns, "other", v1.ServiceConditionRoutesReady, corev1.ConditionFalse, "RevisionNameTaken")
}

func TestNotOwned(t *testing.T) {
	ns := namespace(t)
	foreign := &v1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{{RevisionName: "x-00001", Percent: ptrInt64(100)}}}}
	if err := k8s.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), ksvc(ns, "taken", "example.com/x:v1")); err != nil {
		t.Fatal(err)
	}
	waitServiceCondition(t, ns, "taken", v1.ServiceConditionRoutesReady, corev1.ConditionFalse, "NotOwned")
}

func ptrInt64(v int64) *int64 { return &v }
