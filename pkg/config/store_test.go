package config

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestWatcher(t *testing.T) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	good := configMap(GCName, map[string]string{"min-non-active-revisions": "3"})
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(good).Build()
	rec := events.NewFakeRecorder(10)
	store := NewStore(DefaultSystemNamespace)
	w := &watcher{store: store, client: c, recorder: rec}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: DefaultSystemNamespace, Name: GCName}}
	ctx := context.Background()

	if _, err := w.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := store.Load().GC.MinNonActiveRevisions; got != 3 {
		t.Fatalf("min = %d, want 3", got)
	}

	good.Data["min-non-active-revisions"] = "lots"
	if err := c.Update(ctx, good); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Reconcile(ctx, req); err != nil {
		t.Fatalf("an invalid ConfigMap must not be retried: %v", err)
	}
	if got := store.Load().GC.MinNonActiveRevisions; got != 3 {
		t.Errorf("after an invalid edit min = %d, want the last good 3", got)
	}
	select {
	case e := <-rec.Events:
		if !strings.Contains(e, "InvalidConfig") || !strings.Contains(e, GCName) {
			t.Errorf("event = %q, want InvalidConfig naming %s", e, GCName)
		}
	default:
		t.Error("no event for the invalid ConfigMap")
	}

	if err := c.Delete(ctx, good); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := store.Load().GC.MinNonActiveRevisions; got != 20 {
		t.Errorf("after deletion min = %d, want the default 20", got)
	}
}

// The first read covers every ConfigMap, present, missing or invalid, and
// only then marks the store loaded.
func TestFirstReadMarksLoaded(t *testing.T) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		configMap(GCName, map[string]string{"min-non-active-revisions": "3"}),
		configMap(AutoscalerName, map[string]string{"container-concurrency-target-default": "lots"}),
	).Build()
	store := NewStore(DefaultSystemNamespace)
	select {
	case <-store.Loaded():
		t.Fatal("a new store is loaded")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := store.WaitLoaded(ctx); err == nil {
		t.Fatal("WaitLoaded returned nil before the first read")
	}

	w := &watcher{store: store, client: c, recorder: events.NewFakeRecorder(10)}
	if err := (firstRead{w}).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := store.WaitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.Load().GC.MinNonActiveRevisions; got != 3 {
		t.Errorf("min-non-active-revisions = %d, want 3 from config-gc", got)
	}
	store.MarkLoaded() // a second close must not panic
}
