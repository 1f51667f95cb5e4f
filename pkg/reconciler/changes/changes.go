// Package changes gathers the children one reconcile created or updated, so
// that their owner gets one event per reconcile instead of one per child.
// Events are API writes too: one per child made them about a third of the
// controller's writes when a thousand Services were created at once.
package changes

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// Log is what one reconcile wrote. The zero value is ready to use; a Log
// belongs to one reconcile (it is not safe for concurrent use).
type Log struct {
	created, updated []string
}

// Created notes that a child was created.
func (l *Log) Created(kind, name string) { l.created = append(l.created, describe(kind, name)) }

// Updated notes that a child was updated.
func (l *Log) Updated(kind, name string) { l.updated = append(l.updated, describe(kind, name)) }

// Record emits at most one "Created" and one "Updated" event on owner,
// naming every child in the order written, e.g.
// `Created Deployment "a", Service "a-private"`. A nil recorder records
// nothing.
func (l *Log) Record(rec events.EventRecorder, owner runtime.Object) {
	if rec == nil {
		return
	}
	if len(l.created) > 0 {
		rec.Eventf(owner, nil, corev1.EventTypeNormal, "Created", "Create", "Created %s", strings.Join(l.created, ", "))
	}
	if len(l.updated) > 0 {
		rec.Eventf(owner, nil, corev1.EventTypeNormal, "Updated", "Update", "Updated %s", strings.Join(l.updated, ", "))
	}
}

func describe(kind, name string) string { return fmt.Sprintf("%s %q", kind, name) }
