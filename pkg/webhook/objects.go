package webhook

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// servingObject is what the webhook needs of a serving.knative.dev/v1 kind:
// Knative's own defaulting and validation, and its metadata.
type servingObject interface {
	runtime.Object
	metav1.Object
	apis.Defaultable
	apis.Validatable
}

// newServingObject returns an empty object of the admitted kind, or false
// for a kind the webhook does not handle (a misconfigured webhook rule).
func newServingObject(gvk metav1.GroupVersionKind) (servingObject, bool) {
	if gvk.Group != servingv1.SchemeGroupVersion.Group || gvk.Version != servingv1.SchemeGroupVersion.Version {
		return nil, false
	}
	switch gvk.Kind {
	case "Service":
		return &servingv1.Service{}, true
	case "Configuration":
		return &servingv1.Configuration{}, true
	case "Route":
		return &servingv1.Route{}, true
	case "Revision":
		return &servingv1.Revision{}, true
	}
	return nil, false
}

// decoded is an admission request's object and, on update, its stored
// predecessor (nil on create).
type decoded struct {
	obj, old servingObject
}

// newDecoder returns an admission decoder that knows the serving.knative.dev/v1 kinds.
func newDecoder() (admission.Decoder, error) {
	scheme := runtime.NewScheme()
	if err := servingv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering serving.knative.dev/v1 types: %w", err)
	}
	return admission.NewDecoder(scheme), nil
}

// decode reads the request's object (and old object on update) into typed
// serving objects.
func decode(dec admission.Decoder, req admission.Request) (decoded, error) {
	var d decoded
	obj, ok := newServingObject(req.Kind)
	if !ok {
		return d, fmt.Errorf("kind %s is not admitted by the csclr webhook: check the rules of the webhook configurations", gvkString(req.Kind))
	}
	if err := dec.DecodeRaw(req.Object, obj); err != nil {
		return d, fmt.Errorf("decoding %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	d.obj = obj
	if len(req.OldObject.Raw) > 0 {
		old, _ := newServingObject(req.Kind)
		if err := dec.DecodeRaw(req.OldObject, old); err != nil {
			return d, fmt.Errorf("decoding the stored %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
		}
		d.old = old
	}
	return d, nil
}

func gvkString(gvk metav1.GroupVersionKind) string {
	return gvk.Group + "/" + gvk.Version + ", Kind=" + gvk.Kind
}
