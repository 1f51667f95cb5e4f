package webhook

import (
	"context"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// validator applies Knative's Validate to serving.knative.dev/v1 objects:
// error-level findings deny the request with the FieldError's message (which
// names the field paths), warning-level findings become admission warnings.
type validator struct {
	decoder    admission.Decoder
	withConfig func(context.Context) context.Context
}

var _ admission.Handler = (*validator)(nil)

func (v *validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if !admits(req) {
		return admission.Allowed("")
	}
	objs, err := decode(v.decoder, req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	ctx = validationContext(v.withConfig(ctx), req, objs.old)
	return verdict(objs.obj.Validate(ctx))
}

// validationContext mirrors Knative's webhook: the user, dry-run, and create
// or update with the stored object as the baseline (which is what makes
// "Immutable fields changed" and the BYO-name checks work).
func validationContext(ctx context.Context, req admission.Request, old servingObject) context.Context {
	ctx = apis.WithUserInfo(ctx, &req.UserInfo)
	if req.DryRun != nil && *req.DryRun {
		ctx = apis.WithDryRun(ctx)
	}
	if old != nil {
		return apis.WithinUpdate(ctx, old)
	}
	return apis.WithinCreate(ctx)
}

// verdict turns Knative's validation result into an admission response.
func verdict(result *apis.FieldError) admission.Response {
	var warnings []string
	if w := result.Filter(apis.WarningLevel); w != nil {
		for _, e := range w.WrappedErrors() {
			warnings = append(warnings, e.Error())
		}
	}
	if errs := result.Filter(apis.ErrorLevel); errs != nil {
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
			Allowed: false,
			Result: &metav1.Status{
				Status:  metav1.StatusFailure,
				Code:    http.StatusBadRequest,
				Reason:  metav1.StatusReasonBadRequest,
				Message: "validation failed: " + errs.Error(),
			},
			Warnings: warnings,
		}}
	}
	return admission.Allowed("").WithWarnings(warnings...)
}
