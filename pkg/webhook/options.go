// Package webhook is csclr's admission webhook for serving.knative.dev/v1
// Services, Configurations, Routes and Revisions: Knative's own defaulting
// (SetDefaults) and validation (Validate), served over TLS by the controller
// with a self-managed certificate kept in a Secret.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"k8s.io/utils/clock"
)

// Defaults for Options; config/core/500-webhooks.yaml uses the same names.
const (
	DefaultNamespace                          = "csclr-system"
	DefaultServiceName                        = "csclr-webhook"
	DefaultSecretName                         = "csclr-webhook-certs"
	DefaultPort                               = 8443
	DefaultMutatingWebhookConfigurationName   = "defaulting.webhook.csclr.dev"
	DefaultValidatingWebhookConfigurationName = "validation.webhook.csclr.dev"
)

// Paths the webhook configurations call.
const (
	DefaultingPath = "/defaulting"
	ValidationPath = "/resource-validation"
)

// Options configure the webhook. The zero value of every field means its default.
type Options struct {
	// WithConfig injects Knative's apis config (config-defaults,
	// config-features: knative.dev/serving/pkg/apis/config.ToContext) into the
	// context of every admission request. Default: Knative's built-in defaults.
	WithConfig func(context.Context) context.Context

	// Namespace holds the certificate Secret and the webhook Service.
	Namespace string
	// ServiceName is the Service in front of the webhook; the serving
	// certificate is issued for <ServiceName>.<Namespace>.svc.
	ServiceName string
	// SecretName is the Secret holding the CA and serving certificate.
	SecretName string
	// Host is the address to listen on ("" = all interfaces); Port its port.
	Host string
	Port int
	// ExtraHosts are further DNS names or IP addresses the serving
	// certificate must cover (for example 127.0.0.1 when the apiserver calls
	// the webhook by URL, as in tests).
	ExtraHosts []string

	// MutatingWebhookConfigurationName and ValidatingWebhookConfigurationName
	// are the configurations whose caBundle the webhook keeps current.
	MutatingWebhookConfigurationName   string
	ValidatingWebhookConfigurationName string

	// CAValidity and CertValidity are the lifetimes of issued certificates;
	// RenewBefore is how long before expiry they are replaced; RecheckInterval
	// is how often expiry is checked when the Secret does not change.
	CAValidity, CertValidity, RenewBefore, RecheckInterval time.Duration
	// Clock drives certificate issue and renewal.
	Clock clock.WithTicker

	// DrainPeriod is how long the server keeps serving once the manager
	// stops (SIGTERM), while the removal of this pod from the webhook
	// Service's endpoints reaches the API server's path to it; only then
	// does it shut down. Zero: at once (tests).
	DrainPeriod time.Duration
}

func (o Options) withDefaults() Options {
	if o.WithConfig == nil {
		// Knative's types fall back to their built-in defaults when the
		// context carries no config (config.FromContextOrDefaults).
		o.WithConfig = func(ctx context.Context) context.Context { return ctx }
	}
	setDefault(&o.Namespace, DefaultNamespace)
	setDefault(&o.ServiceName, DefaultServiceName)
	setDefault(&o.SecretName, DefaultSecretName)
	setDefault(&o.MutatingWebhookConfigurationName, DefaultMutatingWebhookConfigurationName)
	setDefault(&o.ValidatingWebhookConfigurationName, DefaultValidatingWebhookConfigurationName)
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.CAValidity == 0 {
		o.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if o.CertValidity == 0 {
		o.CertValidity = 365 * 24 * time.Hour
	}
	if o.RenewBefore == 0 {
		o.RenewBefore = 30 * 24 * time.Hour
	}
	if o.RecheckInterval == 0 {
		o.RecheckInterval = time.Hour
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is not a TCP port", o.Port))
	}
	if o.CertValidity <= o.RenewBefore {
		errs = append(errs, fmt.Errorf("certificate validity %s must be longer than renew-before %s", o.CertValidity, o.RenewBefore))
	}
	if o.CAValidity < o.CertValidity+o.RenewBefore {
		errs = append(errs, fmt.Errorf("CA validity %s must be at least certificate validity + renew-before (%s)", o.CAValidity, o.CertValidity+o.RenewBefore))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("webhook options: %w", err)
	}
	return nil
}

func (o Options) addr() string { return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) }

func (o Options) certPolicy() certPolicy {
	svc := o.ServiceName + "." + o.Namespace + ".svc"
	return certPolicy{
		Hosts:        append([]string{svc, svc + ".cluster.local"}, o.ExtraHosts...),
		CAValidity:   o.CAValidity,
		CertValidity: o.CertValidity,
		RenewBefore:  o.RenewBefore,
	}
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}
