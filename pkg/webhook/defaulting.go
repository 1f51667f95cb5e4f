package webhook

import (
	"context"
	"encoding/json"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// defaulter applies Knative's SetDefaults to serving.knative.dev/v1 objects
// and answers with the JSON patch from the submitted object to the defaulted one.
type defaulter struct {
	decoder    admission.Decoder
	withConfig func(context.Context) context.Context
}

var _ admission.Handler = (*defaulter)(nil)

// admits says whether a request is one the webhooks act on: creates and
// updates of the object itself. Status is the controller's; defaulting or
// validating it would fight the reconciler.
func admits(req admission.Request) bool {
	op := req.Operation
	return (op == admissionv1.Create || op == admissionv1.Update) && req.SubResource == ""
}

func (d *defaulter) Handle(ctx context.Context, req admission.Request) admission.Response {
	if !admits(req) {
		return admission.Allowed("")
	}
	objs, err := decode(d.decoder, req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	ctx = defaultingContext(d.withConfig(ctx), req, objs.old)
	objs.obj.SetDefaults(ctx)

	defaulted, err := json.Marshal(objs.obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	// The patch is taken from the raw request, so it also carries whatever
	// the Go types normalise (as Knative's own webhook does).
	return admission.PatchResponseFromRaw(req.Object.Raw, defaulted)
}

// defaultingContext is the context Knative's webhook defaults in: the
// requesting user (for creator/lastModifier), and create or update with the
// stored object as the baseline. The baseline is defaulted first, so that an
// update is not mistaken for a change merely because the stored object
// predates a default (for instance the BYO-name check in ConfigurationSpec).
func defaultingContext(ctx context.Context, req admission.Request, old servingObject) context.Context {
	if old != nil {
		old.SetDefaults(ctx)
		ctx = apis.WithinUpdate(ctx, old)
	} else {
		ctx = apis.WithinCreate(ctx)
	}
	return apis.WithUserInfo(ctx, &req.UserInfo)
}
