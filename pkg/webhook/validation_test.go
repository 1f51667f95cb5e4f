package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/ptr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

func TestValidation(t *testing.T) {
	revision := func(image string) *servingv1.Revision {
		return &servingv1.Revision{TypeMeta: typeMeta("Revision"), ObjectMeta: objectMeta("hello-00001", nil), Spec: defaultedSpec(image)}
	}
	for _, tc := range []struct {
		name string
		op   admissionv1.Operation
		obj  servingObject
		old  servingObject
		// wantDenied holds substrings of the denial message; empty means allowed.
		wantDenied   []string
		wantWarnings []string
	}{{
		name: "defaulted service is allowed",
		op:   admissionv1.Create,
		obj:  service("hello", nil, defaultedSpec("img"), latest100),
	}, {
		name:       "percent over 100",
		op:         admissionv1.Create,
		obj:        service("hello", nil, defaultedSpec("img"), servingv1.TrafficTarget{LatestRevision: ptr.Bool(true), Percent: ptr.Int64(101)}),
		wantDenied: []string{"validation failed:", "spec.traffic[0].percent"},
	}, {
		name: "percents not summing to 100",
		op:   admissionv1.Create,
		obj: service("hello", nil, defaultedSpec("img"),
			servingv1.TrafficTarget{LatestRevision: ptr.Bool(true), Percent: ptr.Int64(40)},
			servingv1.TrafficTarget{RevisionName: "hello-00001", LatestRevision: ptr.Bool(false), Percent: ptr.Int64(40)}),
		wantDenied: []string{"Traffic targets sum to 80, want 100", "spec.traffic"},
	}, {
		name:       "reserved env var",
		op:         admissionv1.Create,
		obj:        service("hello", nil, withEnv(defaultedSpec("img"), "K_SERVICE")),
		wantDenied: []string{"spec.template.spec.containers[0].env[0].name"},
	}, {
		name:         "deprecated queue resource percentage annotation warns",
		op:           admissionv1.Create,
		obj:          withTemplateAnnotation(service("hello", nil, defaultedSpec("img"), latest100), "queue.sidecar.serving.knative.dev/resource-percentage", "20"),
		wantWarnings: []string{"Queue proxy resource percentage annotation is deprecated"},
	}, {
		name:       "revision spec is immutable",
		op:         admissionv1.Update,
		old:        revision("img"),
		obj:        revision("img2"),
		wantDenied: []string{"Immutable fields changed", "spec"},
	}, {
		name: "revision metadata may change",
		op:   admissionv1.Update,
		old:  revision("img"),
		obj: func() *servingv1.Revision {
			r := revision("img")
			r.Labels = map[string]string{"a": "b"}
			return r
		}(),
	}, {
		name:       "BYO name: template change without a new name",
		op:         admissionv1.Update,
		old:        withTemplateName(service("hello", nil, defaultedSpec("img"), latest100), "hello-v1"),
		obj:        withTemplateName(service("hello", nil, defaultedSpec("img2"), latest100), "hello-v1"),
		wantDenied: []string{"Saw the following changes without a name change", "spec.template.metadata.name"},
	}, {
		name:       "BYO name without the service prefix",
		op:         admissionv1.Create,
		obj:        withTemplateName(service("hello", nil, defaultedSpec("img"), latest100), "other-v1"),
		wantDenied: []string{"spec.template.metadata.name"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, v := newHandlers(t)
			resp := v.Handle(context.Background(), admissionRequest(t, tc.op, "alice", tc.obj, tc.old))
			if len(tc.wantDenied) == 0 {
				if !resp.Allowed {
					t.Fatalf("denied: %s", resp.Result.Message)
				}
			} else {
				if resp.Allowed {
					t.Fatalf("allowed, want denied with %q", tc.wantDenied)
				}
				for _, s := range tc.wantDenied {
					if !strings.Contains(resp.Result.Message, s) {
						t.Errorf("denial %q does not contain %q", resp.Result.Message, s)
					}
				}
				if resp.Result.Code != 400 {
					t.Errorf("denial code = %d, want 400", resp.Result.Code)
				}
			}
			for _, w := range tc.wantWarnings {
				if !containsSubstring(resp.Warnings, w) {
					t.Errorf("warnings %q do not contain %q", resp.Warnings, w)
				}
			}
		})
	}
}

func containsSubstring(list []string, s string) bool {
	for _, l := range list {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func withEnv(s servingv1.RevisionSpec, name string) servingv1.RevisionSpec {
	s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: name, Value: "x"})
	return s
}

func withTemplateAnnotation(s *servingv1.Service, k, v string) *servingv1.Service {
	if s.Spec.Template.Annotations == nil {
		s.Spec.Template.Annotations = map[string]string{}
	}
	s.Spec.Template.Annotations[k] = v
	return s
}
