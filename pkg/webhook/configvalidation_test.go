package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name      string
		op        admissionv1.Operation
		cm        string
		data      map[string]string
		wantIn    string // "" when allowed
		wantField string
	}{
		{name: "defaults", op: admissionv1.Create, cm: "config-autoscaler"},
		{name: "valid value", op: admissionv1.Update, cm: "config-autoscaler", data: map[string]string{"stable-window": "90s"}},
		{name: "bad window", op: admissionv1.Update, cm: "config-autoscaler", data: map[string]string{"stable-window": "1s"},
			wantIn: "config-autoscaler", wantField: "stable-window"},
		{name: "bad target", op: admissionv1.Create, cm: "config-autoscaler", data: map[string]string{"container-concurrency-target-default": "-1"},
			wantIn: "config-autoscaler", wantField: "container-concurrency-target"},
		{name: "bad timeout default", op: admissionv1.Update, cm: "config-defaults", data: map[string]string{"revision-timeout-seconds": "nope"},
			wantIn: "config-defaults", wantField: "revision-timeout-seconds"},
		{name: "bad progress deadline", op: admissionv1.Update, cm: "config-deployment", data: map[string]string{"progress-deadline": "-5s"},
			wantIn: "config-deployment", wantField: "progress-deadline"},
		{name: "bad domain template", op: admissionv1.Update, cm: "config-network", data: map[string]string{"domain-template": "{{.Name"},
			wantIn: "config-network", wantField: "domain"},
		{name: "bad gc", op: admissionv1.Update, cm: "config-gc", data: map[string]string{"max-non-active-revisions": "x"},
			wantIn: "config-gc", wantField: "max-non-active-revisions"},
		{name: "not csclr's", op: admissionv1.Update, cm: "kube-root-ca.crt", data: map[string]string{"stable-window": "1s"}},
		{name: "delete", op: admissionv1.Delete, cm: "config-autoscaler", data: map[string]string{"stable-window": "1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := &corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: tt.cm, Namespace: DefaultNamespace},
				Data:       tt.data,
			}
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID:       "1",
				Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
				Namespace: cm.Namespace,
				Name:      cm.Name,
				Operation: tt.op,
				Object:    runtime.RawExtension{Raw: mustJSON(t, cm)},
			}}
			resp := configValidator{}.Handle(context.Background(), req)
			if tt.wantIn == "" {
				if !resp.Allowed {
					t.Fatalf("denied: %v", resp.Result)
				}
				return
			}
			if resp.Allowed {
				t.Fatal("allowed, want denied")
			}
			msg := resp.Result.Message
			for _, want := range []string{tt.wantIn, tt.wantField} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
		})
	}
}
