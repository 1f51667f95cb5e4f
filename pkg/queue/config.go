package queue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"csclr.dev/csclr/pkg/tracing"
)

// Defaults for variables the pod builder may omit.
const (
	DefaultUserPort    = 8080
	DefaultTimeout     = 300 * time.Second // Knative's revision-timeout-seconds
	DefaultDrainPeriod = 5 * time.Second   // long enough for endpoint removal to reach every proxy
	MinQueueDepth      = 100
	maxConcurrency     = 1000 // Knative's container-concurrency-max-limit
)

// Config is everything the sidecar needs, loaded and validated in one place.
type Config struct {
	ServingPort, AdminPort, MetricsPort int
	UserPort                            int

	ContainerConcurrency int // 0 = unlimited
	QueueDepth           int // requests waiting for a slot when the container is full

	Timeout              time.Duration // no response started by then → 504
	ResponseStartTimeout time.Duration // 0 = only Timeout applies
	IdleTimeout          time.Duration // 0 = none

	ReadinessProbe *corev1.Probe // never nil after LoadConfig
	DrainPeriod    time.Duration
	RequestLog     bool
	Tracing        tracing.Config // off unless the controller set the TRACING_CONFIG_* variables

	Namespace, Service, Configuration, Revision string
	Pod, PodIP                                  string
}

// RevisionKey is the "namespace/name" the load report carries.
func (c Config) RevisionKey() string { return c.Namespace + "/" + c.Revision }

// LoadConfig reads the sidecar's environment (see contract.go). getenv is
// os.LookupEnv in production.
func LoadConfig(getenv func(string) (string, bool)) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		ServingPort:          r.port(EnvServingPort, ServingPort),
		AdminPort:            r.port(EnvAdminPort, AdminPort),
		MetricsPort:          r.port(EnvMetricsPort, MetricsPort),
		UserPort:             r.port(EnvUserPort, DefaultUserPort),
		ContainerConcurrency: r.intIn(EnvContainerConcurrency, 0, 0, maxConcurrency),
		Timeout:              r.seconds(EnvTimeoutSeconds, DefaultTimeout),
		ResponseStartTimeout: r.seconds(EnvResponseStartTimeout, 0),
		IdleTimeout:          r.seconds(EnvIdleTimeout, 0),
		DrainPeriod:          r.duration(EnvDrainPeriod, DefaultDrainPeriod),
		RequestLog:           r.boolean(EnvRequestLog, true),
		Namespace:            r.str(EnvNamespace),
		Service:              r.str(EnvService),
		Configuration:        r.str(EnvConfiguration),
		Revision:             r.str(EnvRevision),
		Pod:                  r.str(EnvPodName),
		PodIP:                r.str(EnvPodIP),
	}
	c.QueueDepth = r.intIn(EnvQueueDepth, defaultQueueDepth(c.ContainerConcurrency), 1, 1<<20)
	c.ReadinessProbe = r.probe(EnvReadinessProbe)
	c.Tracing = r.tracing()
	if r.err != nil {
		return Config{}, r.err
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func defaultQueueDepth(cc int) int { return max(MinQueueDepth, 10*cc) }

func (c Config) validate() error {
	ports := map[int]string{}
	for _, p := range []struct {
		env  string
		port int
	}{{EnvServingPort, c.ServingPort}, {EnvAdminPort, c.AdminPort}, {EnvMetricsPort, c.MetricsPort}, {EnvUserPort, c.UserPort}} {
		if other, dup := ports[p.port]; dup {
			return fmt.Errorf("queue config: %s and %s are both %d: every port must differ; fix the revision pod's env", other, p.env, p.port)
		}
		ports[p.port] = p.env
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("queue config: %s must be > 0 seconds", EnvTimeoutSeconds)
	}
	return nil
}

// envReader collects the first error so that LoadConfig reads as a list.
type envReader struct {
	getenv func(string) (string, bool)
	err    error
}

func (r *envReader) fail(name, value, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("queue config: %s=%q is not %s; fix the revision pod's env", name, value, want)
	}
}

func (r *envReader) str(name string) string {
	v, _ := r.getenv(name)
	return v
}

func (r *envReader) intIn(name string, def, lo, hi int) int {
	v, ok := r.getenv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("an integer in [%d, %d]", lo, hi))
		return def
	}
	return n
}

func (r *envReader) port(name string, def int) int { return r.intIn(name, def, 1, 65535) }

// seconds reads Knative's integer-seconds fields; 0 or unset means def.
func (r *envReader) seconds(name string, def time.Duration) time.Duration {
	n := r.intIn(name, 0, 0, 365*24*3600)
	if n == 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v, ok := r.getenv(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, v, "a non-negative Go duration such as 5s")
		return def
	}
	return d
}

func (r *envReader) boolean(name string, def bool) bool {
	v, ok := r.getenv(name)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "true or false")
		return def
	}
	return b
}

// tracing reads the variables of tracing.Config.Env.
func (r *envReader) tracing() tracing.Config {
	c, err := tracing.ConfigFromEnv(r.getenv)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("queue config: %w; the controller sets these from ConfigMap %s", err, tracing.ConfigName)
	}
	return c
}

// probe parses the serving container's readiness probe. Without one the
// sidecar does what Knative defaults to: a TCP probe of the user port.
func (r *envReader) probe(name string) *corev1.Probe {
	v, ok := r.getenv(name)
	if !ok || v == "" {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	}
	p := &corev1.Probe{}
	if err := json.Unmarshal([]byte(v), p); err != nil {
		r.fail(name, v, "a JSON corev1.Probe ("+err.Error()+")")
		return nil
	}
	switch {
	case p.TCPSocket != nil, p.HTTPGet != nil, p.GRPC != nil:
	default:
		r.fail(name, v, "a probe with tcpSocket, httpGet or grpc (exec is not supported by the sidecar)")
	}
	return p
}
