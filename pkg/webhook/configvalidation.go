package webhook

import (
	"context"
	"encoding/json"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"csclr.dev/csclr/pkg/config"
)

// ConfigValidationPath is where the webhook validates the ConfigMaps in the
// system namespace that the controller reads (config.Names), as Knative's
// config webhook does: a bad value is refused at `kubectl apply` rather than
// ignored by the controller, which would keep its previous configuration.
const ConfigValidationPath = "/config-validation"

// configValidator needs no scheme: a ConfigMap is read as plain JSON.
type configValidator struct{}

var _ admission.Handler = configValidator{}

func (configValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Kind.Group != "" || req.Kind.Kind != "ConfigMap" ||
		(req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) {
		return admission.Allowed("")
	}
	cm := &corev1.ConfigMap{}
	if err := json.Unmarshal(req.Object.Raw, cm); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if err := config.Validate(cm); err != nil {
		return admission.Denied("validation failed: " + err.Error())
	}
	return admission.Allowed("")
}
