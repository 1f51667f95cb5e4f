//go:build integration

package controller_test

import (
	"context"
	"encoding/json"
	"testing"

	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// dump logs the state of a Service's objects when a test fails.
func dump(t *testing.T, ns, name string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for _, obj := range []client.Object{&v1.Service{}, &v1.Configuration{}, &v1.Route{}} {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			t.Logf("%T: %v", obj, err)
			continue
		}
		obj.SetManagedFields(nil)
		b, _ := json.Marshal(obj)
		t.Logf("%s", b)
	}
}
