package revision

import (
	"context"
	"errors"
	"testing"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestScaleTransition(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after *int32
		reason, note  string
	}{
		{name: "new revision at zero", after: ptr.To[int32](0)},
		{name: "new revision running", after: ptr.To[int32](1)},
		{name: "status never had a Deployment", before: ptr.To[int32](0)},
		{name: "from zero", before: ptr.To[int32](0), after: ptr.To[int32](3),
			reason: ReasonScaleFromZero, note: "Scaled from zero to 3 replicas"},
		{name: "from zero to one", before: ptr.To[int32](0), after: ptr.To[int32](1),
			reason: ReasonScaleFromZero, note: "Scaled from zero to 1 replica"},
		{name: "to zero", before: ptr.To[int32](2), after: ptr.To[int32](0),
			reason: ReasonScaleToZero, note: "Scaled to zero from 2 replicas"},
		{name: "to zero from one", before: ptr.To[int32](1), after: ptr.To[int32](0),
			reason: ReasonScaleToZero, note: "Scaled to zero from 1 replica"},
		{name: "stays at zero", before: ptr.To[int32](0), after: ptr.To[int32](0)},
		{name: "scales up", before: ptr.To[int32](1), after: ptr.To[int32](5)},
		{name: "scales down, not to zero", before: ptr.To[int32](5), after: ptr.To[int32](1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, note, ok := scaleTransition(tc.before, tc.after)
			if ok != (tc.reason != "") || reason != tc.reason || note != tc.note {
				t.Errorf("scaleTransition = %q %q %t, want %q %q", reason, note, ok, tc.reason, tc.note)
			}
		})
	}
}

// A status write that fails records no scale event; the retry, which still
// sees the old scale, records it once.
func TestScaleEventFollowsTheStatusWrite(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	stored := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello-00001"}}
	stored.Status.DesiredReplicas = ptr.To[int32](0)
	conflicts := 1
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored).WithStatusSubresource(stored).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				if conflicts > 0 {
					conflicts--
					return apierrs.NewConflict(schema.GroupResource{Group: "serving.knative.dev", Resource: "revisions"}, obj.GetName(), errors.New("the object has been modified"))
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).Build()
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{client: c, recorder: rec}
	for attempt, wantErr := range []bool{true, false} {
		orig := &v1.Revision{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(stored), orig); err != nil {
			t.Fatal(err)
		}
		rev := orig.DeepCopy()
		rev.Status.DesiredReplicas = ptr.To[int32](2)
		if err := r.writeStatus(context.Background(), orig, rev); (err != nil) != wantErr {
			t.Fatalf("attempt %d: writeStatus = %v, want an error: %t", attempt, err, wantErr)
		}
	}
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	if want := "Normal ScaleFromZero Scaled from zero to 2 replicas"; len(got) != 1 || got[0] != want {
		t.Errorf("events = %q, want [%q]", got, want)
	}
}
