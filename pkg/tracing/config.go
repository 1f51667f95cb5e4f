package tracing

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// ConfigName is the ConfigMap in the system namespace that configures
// tracing: the name Knative users know, with csclr's keys (Knative's
// parser at the pinned version only knows the zipkin backend).
const ConfigName = "config-tracing"

// Keys of ConfigName.
const (
	BackendKey    = "backend"       // none (default) or otlp
	EndpointKey   = "otlp-endpoint" // the collector's OTLP/HTTP traces URL
	SampleRateKey = "sample-rate"   // fraction of new traces recorded, in [0, 1]
)

// The same keys as environment variables, set on the queue sidecar by the
// revision reconciler and on the activator from the ConfigMap (config/core).
const (
	EnvBackend    = "TRACING_CONFIG_BACKEND"
	EnvEndpoint   = "TRACING_CONFIG_OTLP_ENDPOINT"
	EnvSampleRate = "TRACING_CONFIG_SAMPLE_RATE"
)

// Backend says where spans go.
type Backend string

const (
	BackendNone Backend = "none"
	BackendOTLP Backend = "otlp"
)

// DefaultSampleRate is Knative's default for sample-rate.
const DefaultSampleRate = 0.1

// defaultPath is where OTLP/HTTP collectors take traces; an endpoint given
// without a path gets it, so "http://collector:4318" works as users expect.
const defaultPath = "/v1/traces"

// Config is the tracing configuration of one process. The zero value is
// tracing off.
type Config struct {
	Backend    Backend
	Endpoint   string  // absolute http(s) URL with path, when Backend is otlp
	SampleRate float64 // for requests that arrive without a sampling decision
}

// Enabled reports whether spans are recorded and exported.
func (c Config) Enabled() bool { return c.Backend == BackendOTLP }

// Env returns c as the environment variables ConfigFromEnv reads, in a
// fixed order; nil when tracing is off, so that pods of a cluster without
// tracing do not change.
func (c Config) Env() [][2]string {
	if !c.Enabled() {
		return nil
	}
	return [][2]string{
		{EnvBackend, string(c.Backend)},
		{EnvEndpoint, c.Endpoint},
		{EnvSampleRate, strconv.FormatFloat(c.SampleRate, 'g', -1, 64)},
	}
}

// NewConfigFromMap parses the data of ConfigName. Keys it does not know
// (such as _example) are ignored, as Knative's parsers do.
func NewConfigFromMap(data map[string]string) (Config, error) {
	return parse(func(key string) string { return data[key] }, func(key string) string { return key })
}

var envOf = map[string]string{BackendKey: EnvBackend, EndpointKey: EnvEndpoint, SampleRateKey: EnvSampleRate}

// ConfigFromEnv parses the environment variables of Env; lookup is
// os.LookupEnv in production. Errors name the variables.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	return parse(func(key string) string { v, _ := lookup(envOf[key]); return v },
		func(key string) string { return envOf[key] })
}

// ConfigFromValues parses values by key (for command-line flags); field
// names the value of a key in error messages.
func ConfigFromValues(values map[string]string, field func(key string) string) (Config, error) {
	return parse(func(key string) string { return values[key] }, field)
}

// parse reads every key and reports every invalid one, each error naming
// its field (a ConfigMap key, an environment variable or a flag), the
// value, and what is expected.
func parse(get func(key string) string, field func(key string) string) (Config, error) {
	c := Config{Backend: BackendNone, SampleRate: DefaultSampleRate}
	var errs []error
	bad := func(key, value, want string) {
		errs = append(errs, fmt.Errorf("%s: %q %s", field(key), value, want))
	}

	switch v := strings.TrimSpace(get(BackendKey)); v {
	case "", string(BackendNone):
	case string(BackendOTLP):
		c.Backend = BackendOTLP
	case "zipkin":
		bad(BackendKey, v, "is not supported: csclr exports OpenTelemetry (OTLP/HTTP) only; use otlp with "+field(EndpointKey)+" (a Zipkin server can receive OTLP through an OpenTelemetry Collector)")
	default:
		bad(BackendKey, v, "is not a backend: use none or otlp")
	}

	if v := strings.TrimSpace(get(EndpointKey)); v != "" {
		ep, err := endpointURL(v)
		if err != nil {
			bad(EndpointKey, v, err.Error())
		}
		c.Endpoint = ep
	} else if c.Backend == BackendOTLP {
		errs = append(errs, fmt.Errorf("%s: required when %s is otlp: the collector's OTLP/HTTP URL, such as http://otel-collector.observability.svc.cluster.local:4318/v1/traces",
			field(EndpointKey), field(BackendKey)))
	}

	if v := strings.TrimSpace(get(SampleRateKey)); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			bad(SampleRateKey, v, "is not a number in [0, 1]")
		} else {
			c.SampleRate = r
		}
	}

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// endpointURL checks an OTLP/HTTP endpoint and gives it the default path
// when it has none.
func endpointURL(v string) (string, error) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", errors.New("is not a URL: " + err.Error())
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("is not an http:// or https:// URL (OTLP/HTTP; gRPC endpoints are not supported)")
	case u.Host == "":
		return "", errors.New("has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("must not have a query or fragment")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = defaultPath
	}
	return u.String(), nil
}
