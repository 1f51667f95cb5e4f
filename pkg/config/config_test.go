package config

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiscfg "knative.dev/serving/pkg/apis/config"
	routecfg "knative.dev/serving/pkg/reconciler/route/config"
	"sigs.k8s.io/yaml"

	"csclr.dev/csclr/pkg/tracing"
)

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: DefaultSystemNamespace, Name: name}, Data: data}
}

func TestDefault(t *testing.T) {
	c := Default()
	if got := c.Network.DefaultIngressClass; got != DefaultIngressClass {
		t.Errorf("ingress class = %q, want %q", got, DefaultIngressClass)
	}
	if got := c.Domain.LookupDomainForLabels(nil); got != "svc.cluster.local" {
		t.Errorf("default domain = %q, want svc.cluster.local", got)
	}
	if got := c.Defaults.RevisionTimeoutSeconds; got != 300 {
		t.Errorf("revision timeout = %d, want 300", got)
	}
	if got := c.GC.MinNonActiveRevisions; got != 20 {
		t.Errorf("gc min-non-active-revisions = %d, want 20", got)
	}
	if got := c.Deployment.ProgressDeadline; got != 600*time.Second {
		t.Errorf("progress deadline = %v, want 600s", got)
	}
	if got := c.Network.TagTemplate; got != "{{.Tag}}-{{.Name}}" {
		t.Errorf("tag template = %q", got)
	}
	if c.Tracing.Enabled() {
		t.Errorf("tracing %+v, want off by default", c.Tracing)
	}
	if got := c.Features.TagHeaderBasedRouting; got != apiscfg.Disabled {
		t.Errorf("tag-header-based-routing = %s, want Knative's default Disabled", got)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cm      *corev1.ConfigMap
		wantErr bool
		check   func(*testing.T, *Config)
	}{{
		name: "defaults override",
		cm:   configMap(DefaultsName, map[string]string{"revision-timeout-seconds": "100"}),
		check: func(t *testing.T, c *Config) {
			if c.Defaults.RevisionTimeoutSeconds != 100 {
				t.Errorf("timeout = %d, want 100", c.Defaults.RevisionTimeoutSeconds)
			}
		},
	}, {
		name: "ingress class from config-network",
		cm:   configMap(NetworkName, map[string]string{"ingress-class": "nginx"}),
		check: func(t *testing.T, c *Config) {
			if c.Network.DefaultIngressClass != "nginx" {
				t.Errorf("class = %q, want nginx", c.Network.DefaultIngressClass)
			}
		},
	}, {
		name: "config-network without ingress class keeps csclr's",
		cm:   configMap(NetworkName, map[string]string{"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}"}),
		check: func(t *testing.T, c *Config) {
			if c.Network.DefaultIngressClass != DefaultIngressClass {
				t.Errorf("class = %q, want %q", c.Network.DefaultIngressClass, DefaultIngressClass)
			}
		},
	}, {
		name: "domain",
		cm:   configMap(DomainName, map[string]string{"example.com": ""}),
		check: func(t *testing.T, c *Config) {
			if got := c.Domain.LookupDomainForLabels(nil); got != "example.com" {
				t.Errorf("domain = %q, want example.com", got)
			}
		},
	}, {
		name: "tag-header-based-routing on",
		cm:   configMap(FeaturesName, map[string]string{"tag-header-based-routing": "Enabled"}),
		check: func(t *testing.T, c *Config) {
			if c.Features.TagHeaderBasedRouting != apiscfg.Enabled {
				t.Errorf("tag-header-based-routing = %s, want Enabled", c.Features.TagHeaderBasedRouting)
			}
		},
	}, {
		name:    "invalid gc",
		cm:      configMap(GCName, map[string]string{"min-non-active-revisions": "-1"}),
		wantErr: true,
	}, {
		name:    "invalid autoscaler",
		cm:      configMap(AutoscalerName, map[string]string{"container-concurrency-target-percentage": "nope"}),
		wantErr: true,
	}, {
		name: "tracing on",
		cm: configMap(TracingName, map[string]string{"backend": "otlp", "otlp-endpoint": "http://collector.obs:4318",
			"sample-rate": "0.5", "_example": "documentation only"}),
		check: func(t *testing.T, c *Config) {
			want := tracing.Config{Backend: tracing.BackendOTLP, Endpoint: "http://collector.obs:4318/v1/traces", SampleRate: 0.5}
			if c.Tracing != want {
				t.Errorf("tracing = %+v, want %+v", c.Tracing, want)
			}
		},
	}, {
		name:    "invalid tracing: Knative's zipkin",
		cm:      configMap(TracingName, map[string]string{"backend": "zipkin", "zipkin-endpoint": "http://zipkin:9411/api/v2/spans"}),
		wantErr: true,
	}, {
		name:    "invalid tracing: otlp without endpoint",
		cm:      configMap(TracingName, map[string]string{"backend": "otlp"}),
		wantErr: true,
	}, {
		name:    "unknown name",
		cm:      configMap("config-other", nil),
		wantErr: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			base := Default()
			got, err := base.Parse(tc.cm)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse() error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			tc.check(t, got)
		})
	}
}

func TestStoreKeepsLastGood(t *testing.T) {
	s := NewStore(DefaultSystemNamespace)
	var changed []string
	s.OnChange(func(name string) { changed = append(changed, name) })
	if err := s.Apply(configMap(GCName, map[string]string{"min-non-active-revisions": "5"})); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(configMap(GCName, map[string]string{"min-non-active-revisions": "-1"})); err == nil {
		t.Fatal("want an error for a negative min-non-active-revisions")
	}
	if got := s.Load().GC.MinNonActiveRevisions; got != 5 {
		t.Errorf("after an invalid update min = %d, want the last good 5", got)
	}
	if len(changed) != 1 || changed[0] != GCName {
		t.Errorf("listeners saw %v, want [%s]", changed, GCName)
	}
	// A deleted ConfigMap arrives as an empty one: back to defaults.
	if err := s.Apply(configMap(GCName, nil)); err != nil {
		t.Fatal(err)
	}
	if got := s.Load().GC.MinNonActiveRevisions; got != 20 {
		t.Errorf("after reset min = %d, want 20", got)
	}
}

func TestToContext(t *testing.T) {
	s := NewStore(DefaultSystemNamespace)
	if err := s.Apply(configMap(DefaultsName, map[string]string{"revision-timeout-seconds": "42"})); err != nil {
		t.Fatal(err)
	}
	ctx := s.ToContext(context.Background())
	if got := apiscfg.FromContext(ctx).Defaults.RevisionTimeoutSeconds; got != 42 {
		t.Errorf("apis config timeout = %d, want 42", got)
	}
	if routecfg.FromContext(ctx).Domain == nil {
		t.Error("route config has no domain")
	}
}

// The installed config-tracing parses (tracing off), and so does its
// documented example, as users copy it.
func TestInstalledTracingConfigMap(t *testing.T) {
	b, err := os.ReadFile("../../config/core/400-config-tracing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.Unmarshal(b, cm); err != nil {
		t.Fatal(err)
	}
	c, err := Default().Parse(cm)
	if err != nil || c.Tracing.Enabled() {
		t.Fatalf("installed config-tracing: %+v, %v; want valid and off", c, err)
	}
	example := map[string]string{}
	if err := yaml.Unmarshal([]byte(cm.Data["_example"]), &example); err != nil {
		t.Fatalf("_example is not YAML: %v", err)
	}
	if len(example) != 3 {
		t.Errorf("_example documents %v, want backend, otlp-endpoint and sample-rate", example)
	}
	example["backend"] = "otlp"
	if c, err := Default().Parse(configMap(TracingName, example)); err != nil || !c.Tracing.Enabled() {
		t.Errorf("the example with backend otlp: %+v, %v; want valid and on", c, err)
	}
}

// The installed config-features sets nothing, and the defaults it documents
// in comments are Knative's.
func TestInstalledFeaturesConfigMap(t *testing.T) {
	b, err := os.ReadFile("../../config/core/400-config-features.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.Unmarshal(b, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != FeaturesName || len(cm.Data) != 0 {
		t.Fatalf("installed ConfigMap %s sets %v, want %s setting nothing", cm.Name, cm.Data, FeaturesName)
	}
	documented := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  # ([a-z.-]+): "(\w+)"$`).FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = m[2]
	}
	if documented["tag-header-based-routing"] == "" || len(documented) < 5 {
		t.Fatalf("documented defaults %v: the pattern no longer finds them", documented)
	}
	c, err := Default().Parse(configMap(FeaturesName, documented))
	if err != nil {
		t.Fatal(err)
	}
	if *c.Features != *Default().Features {
		t.Errorf("the documented defaults %v give %+v, want Knative's %+v", documented, *c.Features, *Default().Features)
	}
}
