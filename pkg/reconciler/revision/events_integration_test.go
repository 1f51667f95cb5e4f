//go:build integration

package revision_test

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision"
)

// The events the Revision reconciler records on a Revision for the children
// it writes (pkg/reconciler/EVENTS.md). Failures come from an admission
// policy that refuses the write (testenv.Refuse), as a webhook or a quota
// would.
func TestRevisionEvents(t *testing.T) {
	const rev = "hello-00001" // newRevision's
	normal := func(reason string, note ...string) testenv.WantEvent {
		return testenv.WantEvent{Type: corev1.EventTypeNormal, Reason: reason, Note: note}
	}
	warning := func(reason string, note ...string) testenv.WantEvent {
		return testenv.WantEvent{Type: corev1.EventTypeWarning, Reason: reason, Note: note}
	}
	const refused = "refused by the test"
	tests := []struct {
		name string
		// refuse is refused before the revision is created; act runs after.
		refuse func(t *testing.T, ns string)
		act    func(t *testing.T, ns string)
		want   []testenv.WantEvent
		quiet  bool // no Warning event in the namespace
	}{{
		name: "children created",
		want: []testenv.WantEvent{normal("Created",
			`Deployment "`+names.Deployment(rev)+`"`, `Service "`+names.PrivateService(rev)+`"`,
			`Service "`+names.PublicService(rev)+`"`, `ScaledObject "`+names.ScaledObject(rev)+`"`,
			`EndpointSlice "`+names.PublicEndpointSlice(rev)+`"`)},
		quiet: true,
	}, {
		// Two children put back one after the other, the Revision unchanged
		// in between: two events, each naming its child (the recorder folds
		// events that relate to the same object).
		name: "children put back",
		act: func(t *testing.T, ns string) {
			drift(t, k8s, ns, names.Deployment(rev), &appsv1.Deployment{}, func(o client.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "registry.example/other:v9"
			})
			testenv.WaitEvent(t, k8s, revisionRef(ns, rev), normal("Updated", `Updated Deployment "`+names.Deployment(rev)+`"`), 20*time.Second)
			drift(t, k8s, ns, names.PrivateService(rev), &corev1.Service{}, func(o client.Object) {
				o.(*corev1.Service).Spec.Selector = map[string]string{"app": "other"}
			})
		},
		want: []testenv.WantEvent{
			normal("Updated", `Updated Deployment "`+names.Deployment(rev)+`"`),
			normal("Updated", `Updated Service "`+names.PrivateService(rev)+`"`),
		},
		quiet: true,
	}, {
		name: "Deployment refused",
		refuse: func(t *testing.T, ns string) {
			testenv.Refuse(t, k8s, ns, "apps", []string{"deployments"}, admissionregistrationv1.Create)
		},
		want: []testenv.WantEvent{warning("CreationFailed", `Failed to create Deployment "`+names.Deployment(rev)+`"`, refused)},
	}, {
		name: "Deployment update refused",
		act: func(t *testing.T, ns string) {
			waitExists(t, ns, names.Deployment(rev), &appsv1.Deployment{})
			testenv.Refuse(t, k8s, ns, "apps", []string{"deployments"}, admissionregistrationv1.Update)
			exempt, err := env.Exempt()
			if err != nil {
				t.Fatal(err)
			}
			drift(t, exempt, ns, names.Deployment(rev), &appsv1.Deployment{}, func(o client.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "registry.example/other:v9"
			})
		},
		want: []testenv.WantEvent{warning("UpdateFailed", `Failed to update Deployment "`+names.Deployment(rev)+`"`, refused)},
	}, {
		name: "status write refused",
		refuse: func(t *testing.T, ns string) {
			testenv.Refuse(t, k8s, ns, "serving.knative.dev", []string{"revisions/status"}, admissionregistrationv1.Update)
		},
		want: []testenv.WantEvent{warning("UpdateFailed", `Failed to update status for "`+rev+`"`, refused)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			if tt.refuse != nil {
				tt.refuse(t, ns)
			}
			newRevision(t, ns, "registry.example/hello:v1", nil)
			if tt.act != nil {
				tt.act(t, ns)
			}
			for _, want := range tt.want {
				testenv.WaitEvent(t, k8s, revisionRef(ns, rev), want, 20*time.Second)
			}
			if tt.quiet {
				warnings, err := testenv.Warnings(context.Background(), k8s, ns, revision.ControllerName)
				if err != nil || len(warnings) > 0 {
					t.Errorf("warnings in %s: %q (%v), want none", ns, warnings, err)
				}
			}
		})
	}
}

func revisionRef(ns, name string) client.Object {
	return &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// waitExists waits until ns/name exists and leaves it in obj.
func waitExists(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	eventually(t, "getting "+name, func() string {
		if err := get(t, ns, name, obj); err != nil {
			return err.Error()
		}
		return ""
	})
}

// drift changes a child as someone other than the reconciler would, through
// c, once it exists.
func drift(t *testing.T, c client.Client, ns, name string, obj client.Object, change func(client.Object)) {
	t.Helper()
	eventually(t, "changing "+name, func() string {
		if err := get(t, ns, name, obj); err != nil {
			return err.Error()
		}
		change(obj)
		if err := c.Update(context.Background(), obj); err != nil {
			return err.Error()
		}
		return ""
	})
}
