package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/ptr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// admissionRequest builds the request the apiserver would send for obj
// (and old, on update) by user.
func admissionRequest(t *testing.T, op admissionv1.Operation, user string, obj, old servingObject) admission.Request {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "0000-1111",
		Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Namespace: obj.GetNamespace(),
		Name:      obj.GetName(),
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: user},
		Object:    runtime.RawExtension{Raw: mustJSON(t, obj)},
	}}
	if old != nil {
		req.OldObject = runtime.RawExtension{Raw: mustJSON(t, old)}
	}
	return req
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// applyPatch returns the request's object after the response's patch,
// decoded into a fresh object of the same kind.
func applyPatch(t *testing.T, req admission.Request, resp admission.Response) servingObject {
	t.Helper()
	patched := req.Object.Raw
	if len(resp.Patches) > 0 {
		p, err := jsonpatch.DecodePatch(mustJSON(t, resp.Patches))
		if err != nil {
			t.Fatalf("decoding the response patch: %v", err)
		}
		if patched, err = p.Apply(patched); err != nil {
			t.Fatalf("applying the response patch: %v", err)
		}
	}
	out, _ := newServingObject(req.Kind)
	if err := json.Unmarshal(patched, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func newHandlers(t *testing.T) (*defaulter, *validator) {
	t.Helper()
	dec, err := newDecoder()
	if err != nil {
		t.Fatal(err)
	}
	noConfig := func(ctx context.Context) context.Context { return ctx }
	return &defaulter{decoder: dec, withConfig: noConfig}, &validator{decoder: dec, withConfig: noConfig}
}

var typeMeta = func(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: kind}
}

func objectMeta(name string, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: annotations}
}

func userInfo(creator, modifier string) map[string]string {
	return map[string]string{
		"serving.knative.dev/creator":      creator,
		"serving.knative.dev/lastModifier": modifier,
	}
}

// templateSpec is a RevisionSpec as a user writes it.
func templateSpec(image string) servingv1.RevisionSpec {
	return servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}}
}

// defaultedSpec is templateSpec(image) after Knative's defaulting on create.
func defaultedSpec(image string) servingv1.RevisionSpec {
	s := servingv1.RevisionSpec{
		ContainerConcurrency: ptr.Int64(0),
		TimeoutSeconds:       ptr.Int64(300),
		PodSpec: corev1.PodSpec{
			EnableServiceLinks: ptr.Bool(false),
			Containers: []corev1.Container{{
				Name:  "user-container",
				Image: image,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}},
					SuccessThreshold: 1,
				},
			}},
		},
	}
	return s
}

func service(name string, annotations map[string]string, spec servingv1.RevisionSpec, traffic ...servingv1.TrafficTarget) *servingv1.Service {
	return &servingv1.Service{
		TypeMeta:   typeMeta("Service"),
		ObjectMeta: objectMeta(name, annotations),
		Spec: servingv1.ServiceSpec{
			ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: spec}},
			RouteSpec:         servingv1.RouteSpec{Traffic: traffic},
		},
	}
}

func withTemplateName(s *servingv1.Service, name string) *servingv1.Service {
	s.Spec.Template.Name = name
	return s
}

var latest100 = servingv1.TrafficTarget{LatestRevision: ptr.Bool(true), Percent: ptr.Int64(100)}

func TestDefaulting(t *testing.T) {
	owned := metav1.OwnerReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello", UID: "u1", Controller: ptr.Bool(true)}
	for _, tc := range []struct {
		name string
		op   admissionv1.Operation
		user string
		obj  servingObject
		old  servingObject
		want servingObject
	}{{
		name: "service create gets traffic, template defaults and creator",
		op:   admissionv1.Create, user: "alice",
		obj:  service("hello", nil, templateSpec("img")),
		want: service("hello", userInfo("alice", "alice"), defaultedSpec("img"), latest100),
	}, {
		name: "service traffic targets get latestRevision and percent",
		op:   admissionv1.Create, user: "alice",
		obj: service("hello", nil, templateSpec("img"),
			servingv1.TrafficTarget{RevisionName: "hello-00001", Percent: ptr.Int64(100)},
			servingv1.TrafficTarget{Tag: "next"}),
		want: service("hello", userInfo("alice", "alice"), defaultedSpec("img"),
			servingv1.TrafficTarget{RevisionName: "hello-00001", Percent: ptr.Int64(100), LatestRevision: ptr.Bool(false)},
			servingv1.TrafficTarget{Tag: "next", Percent: ptr.Int64(0), LatestRevision: ptr.Bool(true)}),
	}, {
		name: "service spec update records the modifier, keeps the creator",
		op:   admissionv1.Update, user: "bob",
		old: service("hello", userInfo("alice", "alice"), defaultedSpec("img"), latest100),
		obj: service("hello", userInfo("alice", "alice"), templateSpec("img2"), latest100),
		want: service("hello", userInfo("alice", "bob"), func() servingv1.RevisionSpec {
			// enableServiceLinks is defaulted on create only.
			s := defaultedSpec("img2")
			s.EnableServiceLinks = nil
			return s
		}(), latest100),
	}, {
		name: "service metadata-only update leaves lastModifier",
		op:   admissionv1.Update, user: "bob",
		old:  service("hello", userInfo("alice", "alice"), defaultedSpec("img"), latest100),
		obj:  service("hello", map[string]string{"serving.knative.dev/creator": "alice", "serving.knative.dev/lastModifier": "alice", "x": "y"}, defaultedSpec("img"), latest100),
		want: service("hello", map[string]string{"serving.knative.dev/creator": "alice", "serving.knative.dev/lastModifier": "alice", "x": "y"}, defaultedSpec("img"), latest100),
	}, {
		name: "BYO name kept on update skips template defaulting",
		op:   admissionv1.Update, user: "bob",
		old:  withTemplateName(service("hello", userInfo("alice", "alice"), defaultedSpec("img"), latest100), "hello-v1"),
		obj:  withTemplateName(service("hello", userInfo("alice", "alice"), templateSpec("img"), latest100), "hello-v1"),
		want: withTemplateName(service("hello", userInfo("alice", "bob"), templateSpec("img"), latest100), "hello-v1"),
	}, {
		name: "BYO name changed on update is defaulted",
		op:   admissionv1.Update, user: "bob",
		old: withTemplateName(service("hello", userInfo("alice", "alice"), defaultedSpec("img"), latest100), "hello-v1"),
		obj: withTemplateName(service("hello", userInfo("alice", "alice"), templateSpec("img2"), latest100), "hello-v2"),
		want: withTemplateName(service("hello", userInfo("alice", "bob"), func() servingv1.RevisionSpec {
			s := defaultedSpec("img2")
			s.EnableServiceLinks = nil
			return s
		}(), latest100), "hello-v2"),
	}, {
		name: "configuration owned by a service gets no user annotations",
		op:   admissionv1.Create, user: "system:serviceaccount:csclr-system:controller",
		obj: &servingv1.Configuration{
			TypeMeta:   typeMeta("Configuration"),
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", OwnerReferences: []metav1.OwnerReference{owned}},
			Spec:       servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: templateSpec("img")}},
		},
		want: &servingv1.Configuration{
			TypeMeta:   typeMeta("Configuration"),
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", OwnerReferences: []metav1.OwnerReference{owned}},
			Spec:       servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: defaultedSpec("img")}},
		},
	}, {
		name: "standalone configuration gets user annotations",
		op:   admissionv1.Create, user: "alice",
		obj: &servingv1.Configuration{
			TypeMeta: typeMeta("Configuration"), ObjectMeta: objectMeta("cfg", nil),
			Spec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: templateSpec("img")}},
		},
		want: &servingv1.Configuration{
			TypeMeta: typeMeta("Configuration"), ObjectMeta: objectMeta("cfg", userInfo("alice", "alice")),
			Spec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{Spec: defaultedSpec("img")}},
		},
	}, {
		name: "standalone route: targets defaulted, no implicit 100% target",
		op:   admissionv1.Create, user: "alice",
		obj: &servingv1.Route{
			TypeMeta: typeMeta("Route"), ObjectMeta: objectMeta("rt", nil),
			Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{ConfigurationName: "cfg", Percent: ptr.Int64(100)}}},
		},
		want: &servingv1.Route{
			TypeMeta: typeMeta("Route"), ObjectMeta: objectMeta("rt", userInfo("alice", "alice")),
			Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{ConfigurationName: "cfg", Percent: ptr.Int64(100), LatestRevision: ptr.Bool(true)}}},
		},
	}, {
		name: "route owned by a service gets no user annotations",
		op:   admissionv1.Create, user: "system:serviceaccount:csclr-system:controller",
		obj: &servingv1.Route{
			TypeMeta:   typeMeta("Route"),
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", OwnerReferences: []metav1.OwnerReference{owned}},
			Spec:       servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{ConfigurationName: "hello", Percent: ptr.Int64(100), LatestRevision: ptr.Bool(true)}}},
		},
		want: &servingv1.Route{
			TypeMeta:   typeMeta("Route"),
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", OwnerReferences: []metav1.OwnerReference{owned}},
			Spec:       servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{ConfigurationName: "hello", Percent: ptr.Int64(100), LatestRevision: ptr.Bool(true)}}},
		},
	}, {
		name: "revision create is defaulted",
		op:   admissionv1.Create, user: "system:serviceaccount:csclr-system:controller",
		obj:  &servingv1.Revision{TypeMeta: typeMeta("Revision"), ObjectMeta: objectMeta("hello-00001", nil), Spec: templateSpec("img")},
		want: &servingv1.Revision{TypeMeta: typeMeta("Revision"), ObjectMeta: objectMeta("hello-00001", nil), Spec: defaultedSpec("img")},
	}, {
		name: "revision update is not defaulted (its spec is immutable)",
		op:   admissionv1.Update, user: "bob",
		old:  &servingv1.Revision{TypeMeta: typeMeta("Revision"), ObjectMeta: objectMeta("hello-00001", nil), Spec: defaultedSpec("img")},
		obj:  &servingv1.Revision{TypeMeta: typeMeta("Revision"), ObjectMeta: objectMeta("hello-00001", map[string]string{"a": "b"}), Spec: templateSpec("img")},
		want: &servingv1.Revision{TypeMeta: typeMeta("Revision"), ObjectMeta: objectMeta("hello-00001", map[string]string{"a": "b"}), Spec: templateSpec("img")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newHandlers(t)
			req := admissionRequest(t, tc.op, tc.user, tc.obj, tc.old)
			resp := d.Handle(context.Background(), req)
			if !resp.Allowed {
				t.Fatalf("defaulting denied the request: %+v", resp.Result)
			}
			got := applyPatch(t, req, resp)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("defaulted object (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultingLetsOtherOperationsThrough(t *testing.T) {
	d, _ := newHandlers(t)
	req := admissionRequest(t, admissionv1.Delete, "alice", service("hello", nil, templateSpec("img")), nil)
	if resp := d.Handle(context.Background(), req); !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("delete: got allowed=%v patches=%v, want allowed without patch", resp.Allowed, resp.Patches)
	}
	req = admissionRequest(t, admissionv1.Update, "alice", service("hello", nil, templateSpec("img")), service("hello", nil, templateSpec("img")))
	req.SubResource = "status"
	if resp := d.Handle(context.Background(), req); !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("status update: got allowed=%v patches=%v, want allowed without patch", resp.Allowed, resp.Patches)
	}
}

func TestUnknownKindIsAnError(t *testing.T) {
	d, v := newHandlers(t)
	req := admissionRequest(t, admissionv1.Create, "alice", service("hello", nil, templateSpec("img")), nil)
	req.Kind.Kind = "DomainMapping"
	for name, h := range map[string]admission.Handler{"defaulting": d, "validation": v} {
		resp := h.Handle(context.Background(), req)
		if resp.Allowed || !strings.Contains(resp.Result.Message, "DomainMapping is not admitted") {
			t.Errorf("%s: got allowed=%v %+v, want an error naming the kind", name, resp.Allowed, resp.Result)
		}
	}
}
