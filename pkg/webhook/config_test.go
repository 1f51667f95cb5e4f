package webhook

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	"knative.dev/pkg/ptr"
	apisconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// withTestConfig is a WithConfig as cmd/controller passes it: the cluster's
// config-defaults and config-features.
func withTestConfig(t *testing.T) func(context.Context) context.Context {
	t.Helper()
	defaults, err := apisconfig.NewDefaultsConfigFromMap(map[string]string{
		"revision-timeout-seconds": "120",
		"container-name-template":  "{{.Name}}-app",
	})
	if err != nil {
		t.Fatal(err)
	}
	features, err := apisconfig.NewFeaturesConfigFromMap(map[string]string{"kubernetes.podspec-nodeselector": "enabled"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &apisconfig.Config{Defaults: defaults, Features: features}
	return func(ctx context.Context) context.Context { return apisconfig.ToContext(ctx, cfg) }
}

func TestWithConfigDrivesDefaultsAndFeatures(t *testing.T) {
	d, v := newHandlers(t)
	d.withConfig, v.withConfig = withTestConfig(t), withTestConfig(t)

	req := admissionRequest(t, admissionv1.Create, "alice", service("hello", nil, templateSpec("img")), nil)
	got := applyPatch(t, req, d.Handle(context.Background(), req)).(*servingv1.Service)
	want := defaultedSpec("img")
	want.TimeoutSeconds = ptr.Int64(120)
	want.Containers[0].Name = "hello-app"
	if diff := cmp.Diff(want, got.Spec.Template.Spec); diff != "" {
		t.Errorf("template defaulted with config-defaults (-want +got):\n%s", diff)
	}

	withNodeSelector := service("hello", nil, defaultedSpec("img"), latest100)
	withNodeSelector.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	req = admissionRequest(t, admissionv1.Create, "alice", withNodeSelector, nil)
	if resp := v.Handle(context.Background(), req); !resp.Allowed {
		t.Errorf("nodeSelector denied although config-features enables it: %s", resp.Result.Message)
	}
	_, plain := newHandlers(t)
	if resp := plain.Handle(context.Background(), req); resp.Allowed {
		t.Error("nodeSelector allowed with Knative's default features (disabled)")
	}
}
