// Package config holds the controller's cluster configuration: the Knative
// ConfigMaps (config-defaults, config-features, config-autoscaler,
// config-network, config-deployment, config-gc, config-domain) in the csclr
// system namespace, parsed with Knative's own parsers so that every default and
// validation rule is Knative's; and config-tracing, whose keys are csclr's
// (pkg/tracing: Knative's parser at the pinned version knows only zipkin).
package config

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	netcfg "knative.dev/networking/pkg/config"
	apiscfg "knative.dev/serving/pkg/apis/config"
	asconfig "knative.dev/serving/pkg/autoscaler/config"
	autoscalerconfig "knative.dev/serving/pkg/autoscaler/config/autoscalerconfig"
	"knative.dev/serving/pkg/deployment"
	"knative.dev/serving/pkg/gc"
	routecfg "knative.dev/serving/pkg/reconciler/route/config"

	"csclr.dev/csclr/pkg/tracing"
)

const (
	// DefaultSystemNamespace is where csclr runs and reads its ConfigMaps
	// when SYSTEM_NAMESPACE is not set.
	DefaultSystemNamespace = "csclr-system"

	// SystemNamespaceEnv names the environment variable that overrides
	// DefaultSystemNamespace (set from the pod's namespace in config/core).
	SystemNamespaceEnv = "SYSTEM_NAMESPACE"

	// DefaultIngressClass is the ingress class csclr writes on Ingresses
	// when config-network does not name one: csclr's own gateway (the
	// activator), not Knative's istio default, because csclr ships no istio.
	DefaultIngressClass = "csclr"

	// QueueSidecarImageEnv names the environment variable holding the queue
	// sidecar image used when config-deployment does not set
	// queue-sidecar-image (config/core sets it on the controller through ko).
	QueueSidecarImageEnv = "QUEUE_SIDECAR_IMAGE"

	// fallbackQueueSidecarImage is used when neither the ConfigMap nor the
	// environment names the image; it is the ko import path, which only
	// resolves in a ko-built deployment.
	fallbackQueueSidecarImage = "ko://csclr.dev/csclr/cmd/queue"
)

// Names of the ConfigMaps the controller reads, all in the system namespace.
const (
	DefaultsName   = apiscfg.DefaultsConfigName
	FeaturesName   = apiscfg.FeaturesConfigName
	AutoscalerName = asconfig.ConfigName
	NetworkName    = netcfg.ConfigMapName
	DeploymentName = deployment.ConfigName
	GCName         = gc.ConfigName
	DomainName     = routecfg.DomainConfigName
	TracingName    = tracing.ConfigName
)

// Names lists every ConfigMap the controller watches.
var Names = []string{DefaultsName, FeaturesName, AutoscalerName, NetworkName, DeploymentName, GCName, DomainName, TracingName}

// SystemNamespace returns the namespace csclr's ConfigMaps live in.
func SystemNamespace() string {
	if ns := os.Getenv(SystemNamespaceEnv); ns != "" {
		return ns
	}
	return DefaultSystemNamespace
}

// Config is one consistent snapshot of the cluster configuration. A Config is
// never modified after it is published; the store replaces it as a whole.
type Config struct {
	Defaults   *apiscfg.Defaults
	Features   *apiscfg.Features
	Autoscaler *autoscalerconfig.Config
	Network    *netcfg.Config
	Deployment *deployment.Config
	GC         *gc.Config
	Domain     *routecfg.Domain
	Tracing    tracing.Config // of the queue sidecars; off by default
}

// Default returns the configuration that applies when none of the ConfigMaps
// exist: Knative's defaults, with csclr's ingress class.
func Default() *Config {
	c := &Config{}
	for _, name := range Names {
		// Parsing an empty ConfigMap cannot fail: it yields the defaults.
		if err := c.set(name, &corev1.ConfigMap{}); err != nil {
			panic(fmt.Sprintf("defaults for ConfigMap %s do not parse: %v", name, err))
		}
	}
	return c
}

// Parse returns a copy of c with the ConfigMap cm (one of Names) parsed into
// it; c is unchanged. The error names the ConfigMap and what is wrong.
func (c *Config) Parse(cm *corev1.ConfigMap) (*Config, error) {
	next := *c
	if err := next.set(cm.Name, cm); err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s is invalid, keeping the previous configuration: %w", cm.Namespace, cm.Name, err)
	}
	return &next, nil
}

func (c *Config) set(name string, cm *corev1.ConfigMap) error {
	var err error
	switch name {
	case DefaultsName:
		c.Defaults, err = apiscfg.NewDefaultsConfigFromConfigMap(cm)
	case FeaturesName:
		c.Features, err = apiscfg.NewFeaturesConfigFromConfigMap(cm)
	case AutoscalerName:
		c.Autoscaler, err = asconfig.NewConfigFromConfigMap(cm)
	case NetworkName:
		c.Network, err = parseNetwork(cm)
	case DeploymentName:
		c.Deployment, err = parseDeployment(cm)
	case GCName:
		c.GC, err = gc.NewConfigFromConfigMapFunc(context.Background())(cm)
	case DomainName:
		c.Domain, err = routecfg.NewDomainFromConfigMap(cm)
	case TracingName:
		c.Tracing, err = tracing.NewConfigFromMap(cm.Data)
	default:
		return fmt.Errorf("unknown ConfigMap %q: csclr reads only %v", name, Names)
	}
	return err
}

// parseNetwork is Knative's parser with csclr's ingress class as the default.
func parseNetwork(cm *corev1.ConfigMap) (*netcfg.Config, error) {
	nc, err := netcfg.NewConfigFromConfigMap(cm)
	if err != nil {
		return nil, err
	}
	_, legacy := cm.Data["ingress.class"]
	if _, set := cm.Data[netcfg.DefaultIngressClassKey]; !set && !legacy {
		nc.DefaultIngressClass = DefaultIngressClass
	}
	return nc, nil
}

// parseDeployment is Knative's parser; the queue sidecar image, which
// Knative requires in the ConfigMap, defaults to csclr's queue.
func parseDeployment(cm *corev1.ConfigMap) (*deployment.Config, error) {
	data := make(map[string]string, len(cm.Data)+1)
	for k, v := range cm.Data {
		data[k] = v
	}
	if data[deployment.QueueSidecarImageKey] == "" {
		data[deployment.QueueSidecarImageKey] = queueSidecarImage()
	}
	return deployment.NewConfigFromMap(data)
}

func queueSidecarImage() string {
	if img := os.Getenv(QueueSidecarImageEnv); img != "" {
		return img
	}
	return fallbackQueueSidecarImage
}

// ToContext returns ctx carrying c the way Knative's code expects it: the API
// config (so SetDefaults and Validate see the cluster defaults) and the route
// config (so Knative's domain helpers see config-network and config-domain).
func (c *Config) ToContext(ctx context.Context) context.Context {
	ctx = apiscfg.ToContext(ctx, &apiscfg.Config{
		Defaults:   c.Defaults,
		Features:   c.Features,
		Autoscaler: c.Autoscaler,
	})
	return routecfg.ToContext(ctx, &routecfg.Config{
		Domain:   c.Domain,
		GC:       c.GC,
		Network:  c.Network,
		Features: c.Features,
	})
}
