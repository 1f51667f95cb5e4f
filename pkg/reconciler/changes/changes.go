// Package changes records, as Kubernetes Events on the object that owns
// them, what the reconcilers wrote to its children, with the reasons
// Knative Serving uses (Created, Updated, Deleted and their failures).
//
// A Log gathers the children one reconcile created or updated, so that their
// owner gets one event per reconcile instead of one per child. Events are API
// writes too: one per child made them about a third of the controller's
// writes when a thousand Services were created at once. Failures and
// deletions are recorded at once, one event per child.
package changes

import (
	"fmt"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/reconciler/terminating"
)

// Reasons of the events, as Knative Serving's reconcilers use them.
const (
	ReasonCreated               = "Created"
	ReasonCreationFailed        = "CreationFailed"
	ReasonUpdated               = "Updated"
	ReasonUpdateFailed          = "UpdateFailed"
	ReasonDeleted               = "Deleted"
	ReasonDeleteFailed          = "DeleteFailed"
	ReasonFinalizerUpdate       = "FinalizerUpdate"
	ReasonFinalizerUpdateFailed = "FinalizerUpdateFailed"
)

// noteLimit is the longest note events.k8s.io/v1 accepts (1 kB); a longer
// one (an admission webhook's refusal can be) would be rejected, and the
// event lost.
const noteLimit = 1024

// Log is what one reconcile wrote. The zero value is ready to use; a Log
// belongs to one reconcile (it is not safe for concurrent use).
type Log struct {
	created, updated []child
}

type child struct {
	kind string
	obj  client.Object
}

// Created notes that obj, a child of kind, was created (obj as written,
// with the resource version the apiserver gave it).
func (l *Log) Created(kind string, obj client.Object) {
	l.created = append(l.created, child{kind, obj})
}

// Updated notes that obj, a child of kind, was updated.
func (l *Log) Updated(kind string, obj client.Object) {
	l.updated = append(l.updated, child{kind, obj})
}

// Record emits at most one "Created" and one "Updated" event on owner,
// naming every child in the order written, e.g.
// `Created Deployment "a", Service "a-private"`. A nil recorder records
// nothing.
//
// The event's related object is the first child. The events.k8s.io
// recorder folds an event into an earlier one with the same owner (at the
// same resource version), reason and related object, keeping the earlier
// note: so an event naming one child relates to it without its resource
// version (a child updated again and again while its owner stays the same
// is one event series, whose note is right), and an event naming several
// relates to the first as just written, which no other event does.
func (l *Log) Record(rec events.EventRecorder, owner runtime.Object) {
	record(rec, owner, ReasonCreated, "Create", l.created)
	record(rec, owner, ReasonUpdated, "Update", l.updated)
}

func record(rec events.EventRecorder, owner runtime.Object, reason, action string, children []child) {
	if rec == nil || len(children) == 0 {
		return
	}
	named := make([]string, len(children))
	for i, c := range children {
		named[i] = describe(c.kind, c.obj.GetName())
	}
	related := children[0].obj
	if len(children) == 1 {
		related = related.DeepCopyObject().(client.Object)
		related.SetResourceVersion("")
	}
	Normal(rec, owner, related, reason, action, "%s %s", reason, strings.Join(named, ", "))
}

// CreationFailed records a Warning "CreationFailed" on owner for obj, a
// child of kind that could not be created. AlreadyExists is not recorded:
// it means the cache has not seen the child yet, and the retry finds it.
// Neither is a refusal because the namespace is being deleted: the event
// would be refused for the same reason.
func CreationFailed(rec events.EventRecorder, owner runtime.Object, kind string, obj client.Object, err error) {
	if apierrors.IsAlreadyExists(err) || terminating.Is(err) {
		return
	}
	Warn(rec, owner, obj, ReasonCreationFailed, "Create", "Failed to create %s: %v", describe(kind, obj.GetName()), err)
}

// UpdateFailed records a Warning "UpdateFailed" on owner for obj, a child
// of kind that could not be updated. A Conflict is not recorded: the cache
// was behind, and the retry writes over the current version.
func UpdateFailed(rec events.EventRecorder, owner runtime.Object, kind string, obj client.Object, err error) {
	if apierrors.IsConflict(err) {
		return
	}
	Warn(rec, owner, obj, ReasonUpdateFailed, "Update", "Failed to update %s: %v", describe(kind, obj.GetName()), err)
}

// Deleted records a Normal "Deleted" event on owner for obj, a child of
// kind it deleted; why, if not empty, follows the name.
func Deleted(rec events.EventRecorder, owner runtime.Object, kind string, obj client.Object, why string) {
	note := "Deleted " + describe(kind, obj.GetName())
	if why != "" {
		note += ": " + why
	}
	Normal(rec, owner, obj, ReasonDeleted, "Delete", "%s", note)
}

// DeleteFailed records a Warning "DeleteFailed" on owner for obj, a child
// of kind that could not be deleted (NotFound is not a failure).
func DeleteFailed(rec events.EventRecorder, owner runtime.Object, kind string, obj client.Object, err error) {
	if apierrors.IsNotFound(err) {
		return
	}
	Warn(rec, owner, obj, ReasonDeleteFailed, "Delete", "Failed to delete %s: %v", describe(kind, obj.GetName()), err)
}

// StatusUpdateFailed records Knative's Warning "UpdateFailed" on obj whose
// status could not be written. NotFound (obj is gone) and Conflict (the
// retry writes over the current version) are not recorded.
func StatusUpdateFailed(rec events.EventRecorder, obj client.Object, err error) {
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return
	}
	Warn(rec, obj, nil, ReasonUpdateFailed, "UpdateStatus", "Failed to update status for %q: %v", obj.GetName(), err)
}

// Warn records a Warning on owner; related may be nil. A nil recorder
// records nothing.
func Warn(rec events.EventRecorder, owner, related runtime.Object, reason, action, format string, args ...any) {
	eventf(rec, owner, related, corev1.EventTypeWarning, reason, action, format, args...)
}

// Normal records a Normal event on owner; related may be nil. A nil
// recorder records nothing.
func Normal(rec events.EventRecorder, owner, related runtime.Object, reason, action, format string, args ...any) {
	eventf(rec, owner, related, corev1.EventTypeNormal, reason, action, format, args...)
}

func eventf(rec events.EventRecorder, owner, related runtime.Object, typ, reason, action, format string, args ...any) {
	if rec == nil {
		return
	}
	rec.Eventf(owner, related, typ, reason, action, "%s", truncate(fmt.Sprintf(format, args...)))
}

func describe(kind, name string) string { return fmt.Sprintf("%s %q", kind, name) }

// truncate cuts note to noteLimit bytes, on a rune boundary.
func truncate(note string) string {
	if len(note) <= noteLimit {
		return note
	}
	const more = "…"
	cut := noteLimit - len(more)
	for cut > 0 && !utf8.RuneStart(note[cut]) {
		cut--
	}
	return note[:cut] + more
}
