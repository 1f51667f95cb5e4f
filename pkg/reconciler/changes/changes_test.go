package changes

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// event is one recorded event, with its related object's name and resource
// version (what the events.k8s.io recorder folds events by).
type event struct {
	typ, reason, action, note string
	related, relatedRV        string
}

type captured struct{ events []event }

func (c *captured) Eventf(_, related runtime.Object, typ, reason, action, note string, args ...any) {
	e := event{typ: typ, reason: reason, action: action, note: fmt.Sprintf(note, args...)}
	if o, ok := related.(client.Object); ok {
		e.related, e.relatedRV = o.GetName(), o.GetResourceVersion()
	}
	c.events = append(c.events, e)
}

var _ events.EventRecorder = &captured{}

func obj(kind, name, rv string) client.Object {
	if kind == "Deployment" {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}}
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}}
}

func TestRecordOneEventPerKindOfChange(t *testing.T) {
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}
	dep := obj("Deployment", "a", "7")
	tests := []struct {
		name string
		log  func(*Log)
		want []event
	}{
		{"nothing written", func(*Log) {}, nil},
		// One child: related without its resource version, so that the
		// same child written again is one series.
		{"one child", func(l *Log) { l.Created("Deployment", dep) }, []event{
			{typ: "Normal", reason: "Created", action: "Create", note: `Created Deployment "a"`, related: "a"},
		}},
		// Several: related to the first as written, unlike any other event.
		{"children created and updated", func(l *Log) {
			l.Created("Deployment", dep)
			l.Updated("Service", obj("Service", "a", "8"))
			l.Created("Service", obj("Service", "a-private", "9"))
		}, []event{
			{typ: "Normal", reason: "Created", action: "Create", note: `Created Deployment "a", Service "a-private"`, related: "a", relatedRV: "7"},
			{typ: "Normal", reason: "Updated", action: "Update", note: `Updated Service "a"`, related: "a"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec captured
			var l Log
			tt.log(&l)
			l.Record(&rec, owner)
			if len(rec.events) != len(tt.want) {
				t.Fatalf("events = %+v, want %+v", rec.events, tt.want)
			}
			for i := range tt.want {
				if rec.events[i] != tt.want[i] {
					t.Errorf("event %d = %+v, want %+v", i, rec.events[i], tt.want[i])
				}
			}
		})
	}
	if dep.GetResourceVersion() != "7" {
		t.Errorf("Record changed the child's resource version to %q", dep.GetResourceVersion())
	}
}

func TestFailuresAndDeletions(t *testing.T) {
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}
	child := obj("Service", "a", "3")
	gr := schema.GroupResource{Resource: "services"}
	boom := errors.New("admission webhook denied the request")
	tests := []struct {
		name string
		do   func(events.EventRecorder)
		want string // "" for no event
	}{
		{"creation failed", func(r events.EventRecorder) { CreationFailed(r, owner, "Service", child, boom) },
			`Warning CreationFailed Failed to create Service "a": admission webhook denied the request`},
		{"creation of a child the cache has not seen", func(r events.EventRecorder) {
			CreationFailed(r, owner, "Service", child, apierrors.NewAlreadyExists(gr, "a"))
		}, ""},
		{"creation in a namespace being deleted", func(r events.EventRecorder) {
			refused := apierrors.NewForbidden(gr, "a", errors.New("unable to create new content in namespace ns because it is being terminated"))
			refused.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}
			CreationFailed(r, owner, "Service", child, refused)
		}, ""},
		{"update failed", func(r events.EventRecorder) { UpdateFailed(r, owner, "Service", child, boom) },
			`Warning UpdateFailed Failed to update Service "a": admission webhook denied the request`},
		{"update of a stale copy", func(r events.EventRecorder) {
			UpdateFailed(r, owner, "Service", child, apierrors.NewConflict(gr, "a", boom))
		}, ""},
		{"deleted", func(r events.EventRecorder) { Deleted(r, owner, "Revision", child, "garbage collected") },
			`Normal Deleted Deleted Revision "a": garbage collected`},
		{"delete failed", func(r events.EventRecorder) { DeleteFailed(r, owner, "Revision", child, boom) },
			`Warning DeleteFailed Failed to delete Revision "a": admission webhook denied the request`},
		{"deleted by someone else", func(r events.EventRecorder) {
			DeleteFailed(r, owner, "Revision", child, apierrors.NewNotFound(gr, "a"))
		}, ""},
		{"status write failed", func(r events.EventRecorder) { StatusUpdateFailed(r, child, boom) },
			`Warning UpdateFailed Failed to update status for "a": admission webhook denied the request`},
		{"status of a deleted object", func(r events.EventRecorder) {
			StatusUpdateFailed(r, child, apierrors.NewNotFound(gr, "a"))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			tt.do(rec)
			tt.do(nil) // a nil recorder records nothing, and must not panic
			close(rec.Events)
			var got []string
			for e := range rec.Events {
				got = append(got, e)
			}
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("events = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

// events.k8s.io/v1 refuses notes over 1 kB; a long error is cut, not lost.
func TestLongNotesAreCut(t *testing.T) {
	var rec captured
	long := errors.New(strings.Repeat("é", 2000))
	CreationFailed(&rec, &corev1.ConfigMap{}, "Service", obj("Service", "a", ""), long)
	if len(rec.events) != 1 {
		t.Fatalf("events = %+v", rec.events)
	}
	note := rec.events[0].note
	if len(note) > noteLimit || !utf8.ValidString(note) || !strings.HasPrefix(note, `Failed to create Service "a": é`) {
		t.Errorf("note of %d bytes (valid UTF-8: %t): %.60q…", len(note), utf8.ValidString(note), note)
	}
}
