package tracing

import (
	"strings"
	"testing"
)

func TestNewConfigFromMap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    map[string]string
		want    Config
		wantErr []string // every string must appear in the error
	}{{
		name: "empty: off",
		want: Config{Backend: BackendNone, SampleRate: DefaultSampleRate},
	}, {
		name: "only the documentation",
		data: map[string]string{"_example": "backend: otlp"},
		want: Config{Backend: BackendNone, SampleRate: DefaultSampleRate},
	}, {
		name: "none explicitly, endpoint kept",
		data: map[string]string{BackendKey: "none", EndpointKey: "http://c:4318/v1/traces"},
		want: Config{Backend: BackendNone, Endpoint: "http://c:4318/v1/traces", SampleRate: DefaultSampleRate},
	}, {
		name: "otlp",
		data: map[string]string{BackendKey: "otlp", EndpointKey: "https://collector.obs.svc:4318/v1/traces", SampleRateKey: "1"},
		want: Config{Backend: BackendOTLP, Endpoint: "https://collector.obs.svc:4318/v1/traces", SampleRate: 1},
	}, {
		name: "endpoint without a path gets the OTLP traces path",
		data: map[string]string{BackendKey: "otlp", EndpointKey: "http://collector:4318"},
		want: Config{Backend: BackendOTLP, Endpoint: "http://collector:4318/v1/traces", SampleRate: DefaultSampleRate},
	}, {
		name: "endpoint with a custom path keeps it",
		data: map[string]string{BackendKey: "otlp", EndpointKey: "http://gw/otlp/traces", SampleRateKey: "0"},
		want: Config{Backend: BackendOTLP, Endpoint: "http://gw/otlp/traces", SampleRate: 0},
	}, {
		name: "surrounding spaces",
		data: map[string]string{BackendKey: " otlp\n", EndpointKey: " http://c:4318/ ", SampleRateKey: " 0.25 "},
		want: Config{Backend: BackendOTLP, Endpoint: "http://c:4318/v1/traces", SampleRate: 0.25},
	}, {
		name:    "otlp without endpoint",
		data:    map[string]string{BackendKey: "otlp"},
		wantErr: []string{"otlp-endpoint: required when backend is otlp"},
	}, {
		name:    "zipkin is Knative's, not ours",
		data:    map[string]string{BackendKey: "zipkin", "zipkin-endpoint": "http://zipkin:9411/api/v2/spans"},
		wantErr: []string{`backend: "zipkin" is not supported`, "use otlp"},
	}, {
		name:    "unknown backend",
		data:    map[string]string{BackendKey: "jaeger"},
		wantErr: []string{`backend: "jaeger" is not a backend: use none or otlp`},
	}, {
		name:    "grpc scheme",
		data:    map[string]string{BackendKey: "otlp", EndpointKey: "grpc://collector:4317"},
		wantErr: []string{`otlp-endpoint: "grpc://collector:4317" is not an http:// or https:// URL`},
	}, {
		name:    "host:port without scheme",
		data:    map[string]string{BackendKey: "otlp", EndpointKey: "collector:4318"},
		wantErr: []string{`otlp-endpoint: "collector:4318" is not an http:// or https:// URL`},
	}, {
		name:    "no host",
		data:    map[string]string{BackendKey: "otlp", EndpointKey: "http:///v1/traces"},
		wantErr: []string{"has no host"},
	}, {
		name:    "query",
		data:    map[string]string{BackendKey: "otlp", EndpointKey: "http://c:4318/v1/traces?x=1"},
		wantErr: []string{"must not have a query"},
	}, {
		name:    "sample rate above 1",
		data:    map[string]string{SampleRateKey: "10"},
		wantErr: []string{`sample-rate: "10" is not a number in [0, 1]`},
	}, {
		name:    "sample rate negative",
		data:    map[string]string{SampleRateKey: "-0.1"},
		wantErr: []string{`sample-rate: "-0.1"`},
	}, {
		name:    "sample rate NaN",
		data:    map[string]string{SampleRateKey: "NaN"},
		wantErr: []string{`sample-rate: "NaN"`},
	}, {
		name:    "sample rate percent",
		data:    map[string]string{SampleRateKey: "10%"},
		wantErr: []string{`sample-rate: "10%"`},
	}, {
		name:    "every bad field is reported",
		data:    map[string]string{BackendKey: "otel", EndpointKey: "ftp://x", SampleRateKey: "2"},
		wantErr: []string{`backend: "otel"`, `otlp-endpoint: "ftp://x"`, `sample-rate: "2"`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewConfigFromMap(tc.data)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The controller writes Env on the queue sidecar; the sidecar reads it back.
func TestEnvRoundTrip(t *testing.T) {
	for _, c := range []Config{
		{Backend: BackendOTLP, Endpoint: "http://c:4318/v1/traces", SampleRate: 0.1},
		{Backend: BackendOTLP, Endpoint: "https://c/v1/traces", SampleRate: 1},
		{Backend: BackendOTLP, Endpoint: "https://c/v1/traces", SampleRate: 0},
	} {
		env := map[string]string{}
		for _, kv := range c.Env() {
			env[kv[0]] = kv[1]
		}
		got, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil || got != c {
			t.Errorf("%+v → env %v → %+v, %v", c, env, got, err)
		}
	}
	if env := (Config{Backend: BackendNone, Endpoint: "http://c/v1/traces", SampleRate: 1}).Env(); env != nil {
		t.Errorf("tracing off: env %v, want none (pods must not change)", env)
	}
	off, err := ConfigFromEnv(func(string) (string, bool) { return "", false })
	if err != nil || off.Enabled() {
		t.Errorf("no env: %+v, %v; want tracing off", off, err)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	_, err := ConfigFromEnv(func(k string) (string, bool) {
		return map[string]string{EnvBackend: "otlp", EnvSampleRate: "x"}[k], true
	})
	for _, s := range []string{EnvEndpoint + ": required when " + EnvBackend + " is otlp", EnvSampleRate + `: "x"`} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("env error %v, want it to contain %q", err, s)
		}
	}
	_, err = ConfigFromValues(map[string]string{BackendKey: "zipkin"}, func(k string) string { return "--tracing-" + k })
	if err == nil || !strings.Contains(err.Error(), `--tracing-backend: "zipkin"`) || !strings.Contains(err.Error(), "--tracing-otlp-endpoint") {
		t.Errorf("flag error %v, want it to name --tracing-backend and --tracing-otlp-endpoint", err)
	}
}
