package queue

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"csclr.dev/csclr/pkg/tracing"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	tcpDefault := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	tracingOff := tracing.Config{Backend: tracing.BackendNone, SampleRate: tracing.DefaultSampleRate}
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{{
		name: "defaults",
		env:  map[string]string{},
		want: Config{
			ServingPort: 8012, AdminPort: 8022, MetricsPort: 9090, UserPort: 8080,
			QueueDepth: 100, Timeout: 300 * time.Second, ReadinessProbe: tcpDefault,
			DrainPeriod: 5 * time.Second, RequestLog: true, Tracing: tracingOff,
		},
	}, {
		name: "everything set by the pod builder",
		env: map[string]string{
			EnvUserPort: "9000", EnvContainerConcurrency: "50", EnvTimeoutSeconds: "60",
			EnvResponseStartTimeout: "10", EnvIdleTimeout: "5",
			EnvReadinessProbe: `{"httpGet":{"path":"/healthz","port":9000},"periodSeconds":0}`,
			EnvNamespace:      "ns", EnvService: "hello", EnvConfiguration: "hello", EnvRevision: "hello-00001",
			EnvPodName: "hello-00001-deployment-x", EnvPodIP: "10.0.0.5",
			EnvDrainPeriod: "2s", EnvRequestLog: "false",
		},
		want: Config{
			ServingPort: 8012, AdminPort: 8022, MetricsPort: 9090, UserPort: 9000,
			ContainerConcurrency: 50, QueueDepth: 500,
			Timeout: 60 * time.Second, ResponseStartTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second,
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/healthz", Port: intstr.FromInt32(9000)}}},
			DrainPeriod: 2 * time.Second,
			Namespace:   "ns", Service: "hello", Configuration: "hello", Revision: "hello-00001",
			Pod: "hello-00001-deployment-x", PodIP: "10.0.0.5", Tracing: tracingOff,
		},
	}, {
		name: "explicit queue depth, zero timeout means the default",
		env:  map[string]string{EnvContainerConcurrency: "1", EnvQueueDepth: "7", EnvTimeoutSeconds: "0"},
		want: Config{
			ServingPort: 8012, AdminPort: 8022, MetricsPort: 9090, UserPort: 8080,
			ContainerConcurrency: 1, QueueDepth: 7, Timeout: 300 * time.Second, ReadinessProbe: tcpDefault,
			DrainPeriod: 5 * time.Second, RequestLog: true, Tracing: tracingOff,
		},
	}, {
		name: "tracing from config-tracing",
		env: map[string]string{tracing.EnvBackend: "otlp", tracing.EnvEndpoint: "http://collector.obs:4318/v1/traces",
			tracing.EnvSampleRate: "0.5"},
		want: Config{
			ServingPort: 8012, AdminPort: 8022, MetricsPort: 9090, UserPort: 8080,
			QueueDepth: 100, Timeout: 300 * time.Second, ReadinessProbe: tcpDefault,
			DrainPeriod: 5 * time.Second, RequestLog: true,
			Tracing: tracing.Config{Backend: tracing.BackendOTLP, Endpoint: "http://collector.obs:4318/v1/traces", SampleRate: 0.5},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(env(tt.env))
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("LoadConfig =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	tests := map[string]map[string]string{
		EnvUserPort:             {EnvUserPort: "http"},
		EnvContainerConcurrency: {EnvContainerConcurrency: "-1"},
		EnvTimeoutSeconds:       {EnvTimeoutSeconds: "5m"},
		EnvReadinessProbe:       {EnvReadinessProbe: `{"exec":{"command":["true"]}}`},
		EnvDrainPeriod:          {EnvDrainPeriod: "soon"},
		EnvRequestLog:           {EnvRequestLog: "maybe"},
		EnvAdminPort:            {EnvAdminPort: "8012"}, // clashes with the serving port
		tracing.EnvBackend:      {tracing.EnvBackend: "zipkin"},
		tracing.EnvEndpoint:     {tracing.EnvBackend: "otlp"},
		tracing.EnvSampleRate:   {tracing.EnvSampleRate: "1.5"},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(env(e))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("LoadConfig(%v) error = %v, want one naming %s", e, err, name)
			}
		})
	}
}

func TestTimeoutsFor(t *testing.T) {
	tests := []struct {
		cfg  Config
		want Timeouts
	}{
		{Config{Timeout: 300 * time.Second}, Timeouts{FirstByte: 300 * time.Second}},
		{Config{Timeout: 300 * time.Second, ResponseStartTimeout: 20 * time.Second, IdleTimeout: time.Second},
			Timeouts{FirstByte: 20 * time.Second, Idle: time.Second}},
		{Config{Timeout: 10 * time.Second, ResponseStartTimeout: 20 * time.Second}, Timeouts{FirstByte: 10 * time.Second}},
	}
	for _, tt := range tests {
		if got := TimeoutsFor(tt.cfg); got != tt.want {
			t.Errorf("TimeoutsFor(%+v) = %+v, want %+v", tt.cfg, got, tt.want)
		}
	}
}
