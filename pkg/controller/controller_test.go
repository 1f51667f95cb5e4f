package controller

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"csclr.dev/csclr/pkg/config"
)

func TestRevisionConfigFollowsStore(t *testing.T) {
	store := config.NewStore("sys")
	get := revisionConfig(store, Options{SystemNamespace: "sys", ScalerAddress: "scaler:9095"}.withDefaults())
	if err := store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.DeploymentName},
		Data: map[string]string{"queue-sidecar-image": "registry.local/queue:1"}}); err != nil {
		t.Fatal(err)
	}
	// Nothing is decided on defaults: the first reconcile waits for the
	// ConfigMaps to have been read.
	early, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	get(early)
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("revision config answered after %v, before the store was loaded", waited)
	}
	store.MarkLoaded()
	c := get(context.Background())
	if c.QueueImage != "registry.local/queue:1" || c.ScalerAddress != "scaler:9095" || c.SystemNamespace != "sys" {
		t.Errorf("revision config = %+v", c)
	}
	if c.Defaults == nil || c.Features == nil || c.Autoscaler == nil || c.Deployment == nil {
		t.Errorf("revision config misses Knative configs: %+v", c)
	}
}

// A reconciler hears of the ConfigMaps it is given, and only of those;
// changes coalesce into one pending signal, so the store never blocks.
func TestConfigChanges(t *testing.T) {
	store := config.NewStore("sys")
	wanted := []string{config.DeploymentName, config.TracingName}
	ch := configChanges(store, wanted...)
	for _, name := range config.Names {
		for range 2 { // the second is coalesced with the first
			if err := store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "sys", Name: name}}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case e := <-ch:
			if !slices.Contains(wanted, name) {
				t.Errorf("signalled for %s", name)
			} else if e.Object.GetName() != name || e.Object.GetNamespace() != "sys" {
				t.Errorf("event for %s/%s, want sys/%s", e.Object.GetNamespace(), e.Object.GetName(), name)
			}
		default:
			if slices.Contains(wanted, name) {
				t.Errorf("no signal for %s", name)
			}
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.SystemNamespace != config.DefaultSystemNamespace || o.LeaderElectionID != "csclr-controller" || o.ScalerAddress == "" {
		t.Errorf("defaults = %+v", o)
	}
}
