package app

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/scaler"
)

// Event reasons on Revisions.
const (
	ReasonScaleFromZero = "ScaleFromZero"
	ReasonScaleToZero   = "ScaleToZero"
)

// activityEvents records a Kubernetes event on the Revision when the scaler
// sees it turn active (a request arrived with no pod: KEDA is told at once)
// or inactive (KEDA will scale it to zero after its cooldown). The lookup and
// the API call run in their own goroutine: the hook must not block.
func activityEvents(ctx context.Context, restCfg *rest.Config, scheme *runtime.Scheme, revisions client.Reader, log *slog.Logger) (func(scaler.Key, bool), error) {
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	rec := b.NewRecorder(scheme, corev1.EventSource{Component: "csclr-activator"})
	return func(rev scaler.Key, active bool) {
		go func() {
			getCtx, cancel := context.WithTimeout(ctx, revisionTimeout)
			defer cancel()
			var r servingv1.Revision
			if err := revisions.Get(getCtx, rev, &r); err != nil {
				log.Debug("no event: revision not found", "revision", rev.String(), "error", err)
				return
			}
			if active {
				rec.Event(&r, corev1.EventTypeNormal, ReasonScaleFromZero, "a request arrived with no ready pod; the scaler told KEDA to scale up")
			} else {
				rec.Event(&r, corev1.EventTypeNormal, ReasonScaleToZero, "no requests for a stable window; KEDA will scale to zero after its cooldown")
			}
		}()
	}, nil
}
