//go:build integration

package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/ptr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func stored[T client.Object](t *testing.T, obj T) T {
	t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func wantAnnotations(t *testing.T, obj client.Object, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range obj.GetAnnotations() {
		if strings.HasPrefix(k, "serving.knative.dev/") {
			got[k] = v
		}
	}
	if want == nil {
		want = map[string]string{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("serving.knative.dev annotations of %s (-want +got):\n%s", obj.GetName(), diff)
	}
}

// TestServiceIsDefaultedAsKnativeDoes checks the stored object after create
// and updates by different users.
func TestServiceIsDefaultedAsKnativeDoes(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	alice, bob, carol := clientAs(t, "alice"), clientAs(t, "bob"), clientAs(t, "carol")
	if got := whoAmI(t, alice); got != "alice" {
		t.Fatalf("impersonation: apiserver sees %q, want alice", got)
	}

	svc := validService(ns)
	if err := alice.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	got := stored(t, &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello"}})
	want := servingv1.ServiceSpec{
		ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: defaultedSpec("registry.example/hello:1")}},
		RouteSpec:         servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{latest100}},
	}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("stored spec after create (-want +got):\n%s", diff)
	}
	wantAnnotations(t, got, userInfo("alice", "alice"))

	got.Spec.Template.Spec.Containers[0].Image = "registry.example/hello:2"
	got.Spec.Traffic = append(got.Spec.Traffic, servingv1.TrafficTarget{Tag: "current", RevisionName: "hello-00001", Percent: nil})
	if err := bob.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	got = stored(t, got)
	want.Template.Spec = defaultedSpec("registry.example/hello:2")
	want.Traffic = []servingv1.TrafficTarget{latest100,
		{Tag: "current", RevisionName: "hello-00001", LatestRevision: ptr.Bool(false), Percent: ptr.Int64(0)}}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("stored spec after update (-want +got):\n%s", diff)
	}
	wantAnnotations(t, got, userInfo("alice", "bob"))

	got.Labels = map[string]string{"team": "a"}
	if err := carol.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	wantAnnotations(t, stored(t, got), userInfo("alice", "bob"))
}

func TestStandaloneAndOwnedConfigurationsAndRoutes(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	alice := clientAs(t, "alice")
	svc := validService(ns)
	if err := alice.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	owner := []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: ptr.Bool(true), BlockOwnerDeletion: ptr.Bool(true)}}
	controller := clientAs(t, "system:serviceaccount:csclr-system:csclr-controller")

	for _, tc := range []struct {
		name  string
		c     client.Client
		obj   client.Object
		check func(t *testing.T, obj client.Object)
		want  map[string]string
	}{{
		name: "standalone configuration",
		c:    alice,
		obj: &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cfg"},
			Spec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: templateSpec("registry.example/cfg")}}},
		check: func(t *testing.T, obj client.Object) {
			if diff := cmp.Diff(defaultedSpec("registry.example/cfg"), obj.(*servingv1.Configuration).Spec.Template.Spec); diff != "" {
				t.Errorf("template (-want +got):\n%s", diff)
			}
		},
		want: userInfo("alice", "alice"),
	}, {
		name: "configuration owned by a service",
		c:    controller,
		obj: &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello", OwnerReferences: owner},
			Spec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: templateSpec("registry.example/hello:1")}}},
	}, {
		name: "standalone route",
		c:    alice,
		obj: &servingv1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rt"},
			Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{ConfigurationName: "cfg", Percent: ptr.Int64(100)}}}},
		check: func(t *testing.T, obj client.Object) {
			want := []servingv1.TrafficTarget{{ConfigurationName: "cfg", Percent: ptr.Int64(100), LatestRevision: ptr.Bool(true)}}
			if diff := cmp.Diff(want, obj.(*servingv1.Route).Spec.Traffic); diff != "" {
				t.Errorf("traffic (-want +got):\n%s", diff)
			}
		},
		want: userInfo("alice", "alice"),
	}, {
		name: "route owned by a service",
		c:    controller,
		obj: &servingv1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello", OwnerReferences: owner},
			Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{ConfigurationName: "hello", Percent: ptr.Int64(100)}}}},
	}, {
		name: "revision",
		c:    controller,
		obj:  &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cfg-00001"}, Spec: templateSpec("registry.example/cfg")},
		check: func(t *testing.T, obj client.Object) {
			if diff := cmp.Diff(defaultedSpec("registry.example/cfg"), obj.(*servingv1.Revision).Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.Create(ctx, tc.obj); err != nil {
				t.Fatal(err)
			}
			got := stored(t, tc.obj)
			wantAnnotations(t, got, tc.want)
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// TestInvalidUpdatesAreRejected covers the checks that need the stored object.
func TestInvalidUpdatesAreRejected(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)

	byo := withTemplateName(validService(ns), "hello-v1")
	if err := env.Client.Create(ctx, byo); err != nil {
		t.Fatal(err)
	}
	t.Run("metadata-only update of a BYO-named service is allowed", func(t *testing.T) {
		s := stored(t, byo.DeepCopy())
		s.Labels = map[string]string{"a": "b"}
		if err := env.Client.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("image change without a new BYO name", func(t *testing.T) {
		s := stored(t, byo.DeepCopy())
		container(s).Image = "registry.example/hello:2"
		wantDenied(t, env.Client.Update(ctx, s), "Saw the following changes without a name change", "spec.template.metadata.name")
	})
	t.Run("image change with a new BYO name is allowed", func(t *testing.T) {
		s := stored(t, byo.DeepCopy())
		container(s).Image = "registry.example/hello:2"
		s.Spec.Template.Name = "hello-v2"
		if err := env.Client.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("traffic update summing to 90", func(t *testing.T) {
		s := stored(t, byo.DeepCopy())
		s.Spec.Traffic = []servingv1.TrafficTarget{latest(60), pinned("hello-v1", 30)}
		wantDenied(t, env.Client.Update(ctx, s), "Traffic targets sum to 90, want 100: spec.traffic")
	})
	t.Run("revision spec change", func(t *testing.T) {
		rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other-00001"}, Spec: templateSpec("registry.example/app-a:1")}
		if err := env.Client.Create(ctx, rev); err != nil {
			t.Fatal(err)
		}
		rev = stored(t, rev)
		rev.Spec.Containers[0].Image = "registry.example/app-b:1"
		wantDenied(t, env.Client.Update(ctx, rev), "Immutable fields changed (-old +new): spec", `Containers[0].Image`)
		rev = stored(t, rev)
		rev.Labels = map[string]string{"a": "b"}
		if err := env.Client.Update(ctx, rev); err != nil {
			t.Errorf("metadata update of a revision: %v", err)
		}
	})
}

func wantDenied(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("admitted, want denied")
	}
	if !strings.Contains(err.Error(), deniedByValidation) {
		t.Fatalf("rejected, but not by the validating webhook: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("rejection does not contain %q:\n%v", w, err)
		}
	}
}

type collectWarnings struct{ got []string }

func (c *collectWarnings) HandleWarningHeader(_ int, _ string, text string) {
	c.got = append(c.got, text)
}

// TestKnativeWarningsReachTheClient: a deprecated annotation is admitted
// with Knative's warning.
func TestKnativeWarningsReachTheClient(t *testing.T) {
	warnings := &collectWarnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warnings
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	s := withTemplateAnnotation(validService(newNamespace(t)), "queue.sidecar.serving.knative.dev/resource-percentage", "20")
	if err := c.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !containsSubstring(warnings.got, "Queue proxy resource percentage annotation is deprecated") {
		t.Errorf("warnings %q do not contain Knative's deprecation warning", warnings.got)
	}
}
