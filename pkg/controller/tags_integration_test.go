//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/internal/testenv"
)

// Editing config-features' tag-header-based-routing reaches existing Routes
// at once: their HTTPRoutes gain a Knative-Serving-Tag rule per tag when it
// turns Enabled and lose them when it turns Disabled or the ConfigMap goes
// (Knative's default), the tags' splits staying in the annotation for the
// tag hosts throughout.
func TestTagHeaderRoutingFollowsConfigFeatures(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "tags")
	svc := twoRevisions(t, ns, "tags")
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{
			{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
			{Tag: "old", RevisionName: "tags-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0)},
		}
	})
	eventually(t, "the tag is served", func() error {
		s := waitServiceCondition(t, ns, "tags", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 2 || s.Status.Traffic[1].Tag != "old" {
			return fmt.Errorf("status.traffic = %+v", s.Status.Traffic)
		}
		return nil
	})
	hr := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tags"}}
	rules := func(what string, wantTags ...string) {
		t.Helper()
		eventually(t, what, func() error {
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(hr), hr); err != nil {
				return err
			}
			var tags []string
			for _, r := range hr.Spec.Rules {
				for _, m := range r.Matches {
					for _, h := range m.Headers {
						if h.Name == "Knative-Serving-Tag" {
							tags = append(tags, h.Value)
						}
					}
				}
			}
			if !slices.Equal(tags, wantTags) || len(hr.Spec.Rules) != len(wantTags)+1 {
				return fmt.Errorf("%d rules, header rules for tags %v; want %v and the split", len(hr.Spec.Rules), tags, wantTags)
			}
			if a := hr.Annotations["csclr.dev/tags"]; a != `{"old":[{"revision":"tags-00001","weight":100}]}` {
				return fmt.Errorf("tags annotation %q", a)
			}
			return nil
		})
	}
	rules("no header rule by default")
	// From here on nothing but config-features changes, so only the Route
	// reconciler's watch on it can bring the rules.
	testenv.WaitSettled(t, k8s, 2*time.Second, 20*time.Second, hr, &v1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tags"}})

	configMap(t, "config-features", map[string]string{"tag-header-based-routing": "Enabled"})
	rules("a header rule once Enabled", "old")
	configMap(t, "config-features", map[string]string{"tag-header-based-routing": "Disabled"})
	rules("no header rule once Disabled")
	configMap(t, "config-features", map[string]string{"tag-header-based-routing": "Enabled"})
	rules("a header rule once Enabled again", "old")
	if err := k8s.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: "config-features"}}); err != nil {
		t.Fatal(err)
	}
	rules("no header rule once config-features is deleted")
}
