package resources

import (
	apiconfig "knative.dev/serving/pkg/apis/config"
	asconfig "knative.dev/serving/pkg/autoscaler/config"
	"knative.dev/serving/pkg/autoscaler/config/autoscalerconfig"
	"knative.dev/serving/pkg/deployment"

	"csclr.dev/csclr/pkg/tracing"
)

// Config is a snapshot of the cluster configuration the builders read. It
// reuses Knative's own config types so that config maps parse and default
// exactly as in Knative.
type Config struct {
	Defaults   *apiconfig.Defaults
	Features   *apiconfig.Features
	Autoscaler *autoscalerconfig.Config
	Deployment *deployment.Config
	Tracing    tracing.Config // given to the queue sidecars (config-tracing)

	QueueImage      string // image of cmd/queue
	ScalerAddress   string // host:port of csclr's KEDA external-push scaler (gRPC)
	SystemNamespace string // where the activator runs (its Service ActivatorService)
}

// ActivatorService is the name of the activator's Service in the system
// namespace; its EndpointSlices are the "proxy" endpoints of every revision.
const ActivatorService = "csclr-activator"

// DefaultConfig is Knative's stock configuration with csclr's defaults, for
// tests and as a fallback.
func DefaultConfig() Config {
	defaults, _ := apiconfig.NewDefaultsConfigFromMap(nil)
	features, _ := apiconfig.NewFeaturesConfigFromMap(nil)
	autoscaler, _ := asconfig.NewConfigFromMap(nil)
	dep, _ := deployment.NewConfigFromMap(map[string]string{deployment.QueueSidecarImageKey: "csclr.dev/queue"})
	return Config{
		Defaults:        defaults,
		Features:        features,
		Autoscaler:      autoscaler,
		Deployment:      dep,
		QueueImage:      "csclr.dev/queue",
		ScalerAddress:   "csclr-activator.csclr-system.svc.cluster.local:9093",
		SystemNamespace: "csclr-system",
	}
}
