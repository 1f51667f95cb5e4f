package revision

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// statusError is an error as the API server sends it.
func statusError(code int32, reason metav1.StatusReason, message string, causes ...metav1.StatusCause) error {
	return &apierrs.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: reason, Message: message,
		Details: &metav1.StatusDetails{Causes: causes},
	}}
}

func TestWriteError(t *testing.T) {
	const webhook = `admission webhook "vscaledobject.kb.io" denied the request: missing memory request for container user-container`
	soGR := schema.GroupResource{Group: "keda.sh", Resource: "scaledobjects"}
	for _, tc := range []struct {
		name    string
		verb    string
		err     error
		reason  string // "" for an error that is not a refusal
		message string
	}{{
		name: "admission webhook denial (403)", verb: "create",
		err:     statusError(http.StatusForbidden, metav1.StatusReasonForbidden, webhook),
		reason:  "FailedCreate",
		message: `Failed to create ScaledObject "hello-00001": ` + webhook,
	}, {
		name: "policy or schema (422)", verb: "update",
		err:    apierrs.NewInvalid(schema.GroupKind{Group: "keda.sh", Kind: "ScaledObject"}, "hello-00001", field.ErrorList{field.Invalid(field.NewPath("spec", "maxReplicaCount"), -1, "must be >= 0")}),
		reason: "FailedUpdate",
		message: `Failed to update ScaledObject "hello-00001": ScaledObject.keda.sh "hello-00001" is invalid: ` +
			`spec.maxReplicaCount: Invalid value: -1: must be >= 0`,
	}, {
		name: "RBAC (403)", verb: "create",
		err:     apierrs.NewForbidden(soGR, "hello-00001", errors.New(`User "csclr" cannot create resource "scaledobjects"`)),
		reason:  "FailedCreate",
		message: `Failed to create ScaledObject "hello-00001": scaledobjects.keda.sh "hello-00001" is forbidden: User "csclr" cannot create resource "scaledobjects"`,
	}, {
		name: "namespace being deleted: no refusal", verb: "create",
		err: statusError(http.StatusForbidden, metav1.StatusReasonForbidden, "namespace ns is being terminated",
			metav1.StatusCause{Type: corev1.NamespaceTerminatingCause}),
	}, {
		name: "webhook unreachable: transient", verb: "create",
		err: statusError(http.StatusInternalServerError, metav1.StatusReasonInternalError, `Internal error occurred: failed calling webhook "vscaledobject.kb.io": connection refused`),
	}, {
		name: "conflict: transient", verb: "update",
		err: apierrs.NewConflict(soGR, "hello-00001", errors.New("the object has been modified")),
	}, {
		name: "not from the API server", verb: "create",
		err: errors.New("dial tcp: connection refused"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			so := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello-00001"}}
			got := writeError(tc.verb, "ScaledObject", so, tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("writeError = %v, does not wrap %v", got, tc.err)
			}
			var ref refusedError
			isRefusal := errors.As(got, &ref)
			if isRefusal != (tc.reason != "") || ref.reason != tc.reason || ref.message != tc.message {
				t.Errorf("writeError = %#v, want reason %q message %q", got, tc.reason, tc.message)
			}
		})
	}
}

// A refusal's event is recorded only while the status does not show it yet.
func TestShown(t *testing.T) {
	refused := refusedError{reason: "FailedCreate", message: "Failed to create ScaledObject \"x\": no (100%)", err: errors.New("no")}
	withRA := func(reason, message string) *v1.Revision {
		rev := &v1.Revision{}
		rev.Status.InitializeConditions()
		if reason != "" {
			rev.Status.MarkResourcesAvailableFalse(reason, escapePercent(message))
		}
		return rev
	}
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		err  error
		want bool
	}{
		{"first time", withRA("", ""), refused, false},
		{"shown", withRA(refused.reason, refused.message), fmt.Errorf("creating: %w", refused), true},
		{"another refusal shown", withRA(refused.reason, "Failed to create Deployment \"x\": no"), refused, false},
		{"another failure shown", withRA(v1.ReasonNotOwned, refused.message), refused, false},
		{"not a refusal", withRA(refused.reason, refused.message), errors.New("no"), false},
	} {
		if got := shown(tc.rev, tc.err); got != tc.want {
			t.Errorf("%s: shown = %v, want %v", tc.name, got, tc.want)
		}
	}
}
