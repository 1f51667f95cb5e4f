//go:build integration

package webhook

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The apiserver calls the config webhook for csclr's labelled config maps
// in the system namespace, and only for those.
func TestConfigMapsAreValidatedAtAdmission(t *testing.T) {
	ctx := context.Background()
	configMap := func(labelled bool, data map[string]string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "config-autoscaler", Namespace: DefaultNamespace},
			Data:       data,
		}
		if labelled {
			cm.Labels = map[string]string{"app.kubernetes.io/part-of": "csclr"}
		}
		return cm
	}
	bad := map[string]string{"stable-window": "1s"}

	err := env.Client.Create(ctx, configMap(true, bad), client.DryRunAll)
	if err == nil {
		t.Fatal("an invalid config-autoscaler was admitted")
	}
	for _, want := range []string{`admission webhook "config.webhook.csclr.dev" denied the request`, "config-autoscaler", "stable-window"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if err := env.Client.Create(ctx, configMap(true, map[string]string{"stable-window": "2m"}), client.DryRunAll); err != nil {
		t.Errorf("a valid config-autoscaler was refused: %v", err)
	}
	// Unlabelled (not installed from config/core): not sent to the webhook,
	// as Knative's object selector does.
	if err := env.Client.Create(ctx, configMap(false, bad), client.DryRunAll); err != nil {
		t.Errorf("an unlabelled config map was refused: %v", err)
	}
	// Elsewhere: another namespace's config maps are not csclr's.
	other := configMap(true, bad)
	other.Namespace = newNamespace(t)
	if err := env.Client.Create(ctx, other, client.DryRunAll); err != nil {
		t.Errorf("a config map outside %s was refused: %v", DefaultNamespace, err)
	}
}
