//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// twoRevisions creates Service name with ready revisions -00001 and -00002.
func twoRevisions(t *testing.T, ns, name string) *v1.Service {
	t.Helper()
	svc := ksvc(ns, name, "example.com/app:v1")
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	get(t, ns, name+"-00001", &v1.Revision{})
	markReady(t, ns, name+"-00001")
	waitServiceCondition(t, ns, name, apis.ConditionReady, corev1.ConditionTrue, "")
	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/app:v2" })
	get(t, ns, name+"-00002", &v1.Revision{})
	markReady(t, ns, name+"-00002")
	return svc
}

// configMap creates or replaces a ConfigMap in the system namespace and
// deletes it when the test ends.
func configMap(t *testing.T, name string, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: name}, Data: data}
	if err := k8s.Create(ctx, cm); apierrors.IsAlreadyExists(err) {
		update(t, cm, func(c *corev1.ConfigMap) { c.Data = data })
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, cm) })
}

func TestTrafficSplitWithTags(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "split")
	configMap(t, "config-domain", map[string]string{"example.com": ""})
	svc := twoRevisions(t, ns, "split")
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{
			{Tag: "current", LatestRevision: ptr.To(true), Percent: ptr.To[int64](70)},
			{Tag: "old", RevisionName: "split-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](30)},
		}
	})
	want := []v1.TrafficTarget{
		{Tag: "current", RevisionName: "split-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](70),
			URL: &apis.URL{Scheme: "http", Host: "current-split." + ns + ".example.com"}},
		{Tag: "old", RevisionName: "split-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](30),
			URL: &apis.URL{Scheme: "http", Host: "old-split." + ns + ".example.com"}},
	}
	eventually(t, "the split is served", func() error {
		s := waitServiceCondition(t, ns, "split", apis.ConditionReady, corev1.ConditionTrue, "")
		if diff := cmp.Diff(want, s.Status.Traffic); diff != "" {
			return fmt.Errorf("status.traffic (-want +got):\n%s", diff)
		}
		if s.Status.URL.String() != "http://split."+ns+".example.com" {
			return fmt.Errorf("url = %v", s.Status.URL)
		}
		return nil
	})

	// tag-header-based-routing is Disabled (Knative's default): no header
	// rules, the tags' splits in the annotation (tags_integration_test.go
	// turns it on).
	hr := get(t, ns, "split", &gatewayv1.HTTPRoute{})
	if n := len(hr.Spec.Rules); n != 1 {
		t.Fatalf("httproute has %d rules, want the split alone", n)
	}
	split := hr.Spec.Rules[0].BackendRefs
	if len(split) != 2 || split[0].Name != "split-00002" || *split[0].Weight != 70 || split[1].Name != "split-00001" || *split[1].Weight != 30 {
		t.Errorf("split backends = %+v", split)
	}
	if got, want := hr.Annotations["csclr.dev/tags"], `{"current":[{"revision":"split-00002","weight":100}],"old":[{"revision":"split-00001","weight":100}]}`; got != want {
		t.Errorf("tags annotation = %s, want %s", got, want)
	}
	// What the apiserver stored equals what was built: no update loop.
	rv := hr.ResourceVersion
	update(t, svc, func(s *v1.Service) { s.Labels = map[string]string{"touch": "1"} })
	eventually(t, "label reaches the httproute", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(hr), hr); err != nil {
			return err
		}
		if hr.Labels["touch"] != "1" {
			return fmt.Errorf("labels = %v", hr.Labels)
		}
		return nil
	})
	rv = hr.ResourceVersion
	ing := get(t, ns, "split", &networkingv1.Ingress{})
	var hosts []string
	for _, r := range ing.Spec.Rules {
		hosts = append(hosts, r.Host)
	}
	wantHosts := []string{"current-split." + ns + ".example.com", "old-split." + ns + ".example.com", "split." + ns + ".example.com"}
	if diff := cmp.Diff(wantHosts, hosts); diff != "" {
		t.Errorf("ingress hosts (-want +got):\n%s", diff)
	}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(hr), hr); err != nil || hr.ResourceVersion != rv {
		t.Errorf("httproute rewritten without a change (resourceVersion %s -> %s, %v)", rv, hr.ResourceVersion, err)
	}
}

func TestClusterLocalURL(t *testing.T) {
	ns := namespace(t)
	configMap(t, "config-domain", map[string]string{"example.com": ""})
	svc := ksvc(ns, "private", "example.com/app:v1")
	svc.Labels = map[string]string{"networking.knative.dev/visibility": "cluster-local"}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "private-00001", &v1.Revision{})
	markReady(t, ns, "private-00001")
	s := waitServiceCondition(t, ns, "private", apis.ConditionReady, corev1.ConditionTrue, "")
	if s.Status.URL.String() != "http://private."+ns+".svc.cluster.local" {
		t.Errorf("cluster-local url = %v", s.Status.URL)
	}
	// No Ingress: it would publish the route (its HTTPRoute and apex
	// Service serve the cluster).
	get(t, ns, "private", &gatewayv1.HTTPRoute{})
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "private"}, &networkingv1.Ingress{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster-local route's Ingress: %v, want NotFound", err)
	}
}

func TestLabelAndAnnotationPropagation(t *testing.T) {
	ns := namespace(t)
	svc := ksvc(ns, "prop", "example.com/app:v1")
	svc.Labels = map[string]string{"keep": "k", "drop": "d"}
	svc.Annotations = map[string]string{
		"keep.example.com/a":                   "k",
		"drop.example.com/a":                   "d",
		serving.CreatorAnnotation:              "alice",
		serving.UpdaterAnnotation:              "alice",
		corev1.LastAppliedConfigAnnotation:     "{}",
		"serving.knative.dev/rollout-duration": "0s",
	}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "prop-00001", &v1.Revision{})
	markReady(t, ns, "prop-00001")
	waitServiceCondition(t, ns, "prop", apis.ConditionReady, corev1.ConditionTrue, "")

	update(t, svc, func(s *v1.Service) {
		delete(s.Labels, "drop")
		delete(s.Annotations, "drop.example.com/a")
		s.Labels["added"] = "a"
	})
	check := func(obj client.Object, wantRollout bool) error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "prop"}, obj); err != nil {
			return err
		}
		l, a := obj.GetLabels(), obj.GetAnnotations()
		switch {
		case l["keep"] != "k" || l["added"] != "a" || l["drop"] != "":
			return fmt.Errorf("%T labels = %v", obj, l)
		case a["keep.example.com/a"] != "k" || a["drop.example.com/a"] != "" || a[serving.CreatorAnnotation] != "alice" || a[serving.UpdaterAnnotation] != "alice":
			return fmt.Errorf("%T annotations = %v", obj, a)
		case a[corev1.LastAppliedConfigAnnotation] != "":
			return fmt.Errorf("%T got last-applied-configuration", obj)
		case (a["serving.knative.dev/rollout-duration"] != "") != wantRollout:
			return fmt.Errorf("%T rollout-duration = %q", obj, a["serving.knative.dev/rollout-duration"])
		}
		return nil
	}
	eventually(t, "propagation to the configuration", func() error { return check(&v1.Configuration{}, false) })
	eventually(t, "propagation to the route", func() error { return check(&v1.Route{}, true) })
	eventually(t, "propagation to the apex service", func() error { return check(&corev1.Service{}, true) })
	// Configuration metadata never reaches revisions.
	rev := get(t, ns, "prop-00001", &v1.Revision{})
	if rev.Labels["keep"] != "" || rev.Annotations["keep.example.com/a"] != "" {
		t.Errorf("service metadata on the revision: %v %v", rev.Labels, rev.Annotations)
	}
}

func TestPinnedAndMissingTargets(t *testing.T) {
	ns := namespace(t)
	svc := twoRevisions(t, ns, "pin")
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{{RevisionName: "pin-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](100)}}
	})
	eventually(t, "pinned to pin-00001", func() error {
		s := waitServiceCondition(t, ns, "pin", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 1 || s.Status.Traffic[0].RevisionName != "pin-00001" {
			return fmt.Errorf("traffic = %+v", s.Status.Traffic)
		}
		return nil
	})
	eventually(t, "pin-00002 in reserve", func() error {
		rev := &v1.Revision{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "pin-00002"}, rev); err != nil {
			return err
		}
		if rev.GetRoutingState() != v1.RoutingStateReserve {
			return fmt.Errorf("routing state = %q", rev.GetRoutingState())
		}
		return nil
	})
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{{RevisionName: "pin-99999", LatestRevision: ptr.To(false), Percent: ptr.To[int64](100)}}
	})
	waitServiceCondition(t, ns, "pin", v1.ServiceConditionRoutesReady, corev1.ConditionFalse, "RevisionMissing")
}

func TestRevisionGC(t *testing.T) {
	ns := namespace(t)
	configMap(t, "config-gc", map[string]string{
		"retain-since-create-time":      "disabled",
		"retain-since-last-active-time": "disabled",
		"min-non-active-revisions":      "0",
		"max-non-active-revisions":      "1",
	})
	svc := twoRevisions(t, ns, "gc")
	eventually(t, "traffic on gc-00002", func() error {
		s := waitServiceCondition(t, ns, "gc", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 1 || s.Status.Traffic[0].RevisionName != "gc-00002" {
			return fmt.Errorf("traffic = %+v", s.Status.Traffic)
		}
		return nil
	})
	// Keep gc-00001 from collection with no-gc; gc-00002 becomes the one to go.
	update(t, &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gc-00001"}}, func(r *v1.Revision) {
		r.Annotations[serving.RevisionPreservedAnnotationKey] = "true"
	})
	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/app:v3" })
	get(t, ns, "gc-00003", &v1.Revision{})
	markReady(t, ns, "gc-00003")
	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/app:v4" })
	get(t, ns, "gc-00004", &v1.Revision{})
	markReady(t, ns, "gc-00004")
	eventually(t, "gc-00002 collected", func() error {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "gc-00002"}, &v1.Revision{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("gc-00002 still there (%v)", err)
		}
		return nil
	})
	for _, name := range []string{"gc-00001", "gc-00003", "gc-00004"} {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &v1.Revision{}); err != nil {
			t.Errorf("%s: %v (no-gc, the newest non-active, and the routed revision must stay)", name, err)
		}
	}
}

func TestGradualRollout(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "roll")
	svc := ksvc(ns, "roll", "example.com/app:v1")
	svc.Annotations = map[string]string{"serving.knative.dev/rollout-duration": "6s"}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "roll-00001", &v1.Revision{})
	markReady(t, ns, "roll-00001")
	waitServiceCondition(t, ns, "roll", apis.ConditionReady, corev1.ConditionTrue, "")

	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/app:v2" })
	get(t, ns, "roll-00002", &v1.Revision{})
	markReady(t, ns, "roll-00002")
	eventually(t, "the rollout splits traffic", func() error {
		r := &v1.Route{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "roll"}, r); err != nil {
			return err
		}
		c := r.Status.GetCondition(v1.RouteConditionIngressReady)
		if len(r.Status.Traffic) != 2 || c == nil || c.Reason != "RolloutInProgress" {
			return fmt.Errorf("traffic = %+v, IngressReady = %+v", r.Status.Traffic, c)
		}
		if r.Status.Traffic[0].RevisionName != "roll-00001" || r.Status.Traffic[1].RevisionName != "roll-00002" ||
			*r.Status.Traffic[0].Percent+*r.Status.Traffic[1].Percent != 100 {
			return fmt.Errorf("split = %+v", r.Status.Traffic)
		}
		return nil
	})
	eventually(t, "the rollout completes", func() error {
		s := waitServiceCondition(t, ns, "roll", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 1 || s.Status.Traffic[0].RevisionName != "roll-00002" || *s.Status.Traffic[0].Percent != 100 {
			return fmt.Errorf("traffic = %+v", s.Status.Traffic)
		}
		return nil
	})
}
