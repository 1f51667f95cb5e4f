package controller

import (
	"context"
	"testing"

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
	c := get(context.Background())
	if c.QueueImage != "registry.local/queue:1" || c.ScalerAddress != "scaler:9095" || c.SystemNamespace != "sys" {
		t.Errorf("revision config = %+v", c)
	}
	if c.Defaults == nil || c.Features == nil || c.Autoscaler == nil || c.Deployment == nil {
		t.Errorf("revision config misses Knative configs: %+v", c)
	}
}

func TestRoutingConfigChanges(t *testing.T) {
	store := config.NewStore("sys")
	ch := routingConfigChanges(store)
	apply := func(name string) {
		if err := store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	apply(config.GCName)
	select {
	case <-ch:
		t.Fatal("config-gc must not requeue routes")
	default:
	}
	apply(config.NetworkName)
	apply(config.DomainName) // coalesced with the pending signal, never blocks
	select {
	case <-ch:
	default:
		t.Fatal("config-network did not requeue routes")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.SystemNamespace != config.DefaultSystemNamespace || o.LeaderElectionID != "csclr-controller" || o.ScalerAddress == "" {
		t.Errorf("defaults = %+v", o)
	}
}
