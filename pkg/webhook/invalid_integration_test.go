//go:build integration

package webhook

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/ptr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

const deniedByValidation = `admission webhook "validation.webhook.csclr.dev" denied the request: validation failed: `

// validService is what each invalid case starts from; it is admitted as is.
func validService(ns string) *servingv1.Service {
	s := service("hello", nil, templateSpec("registry.example/hello:1"))
	s.Namespace = ns
	return s
}

func container(s *servingv1.Service) *corev1.Container { return &s.Spec.Template.Spec.Containers[0] }

func withPort(port int32) func(*servingv1.Service) {
	return func(s *servingv1.Service) { container(s).Ports = []corev1.ContainerPort{{ContainerPort: port}} }
}

func withEnvVar(name string) func(*servingv1.Service) {
	return func(s *servingv1.Service) { container(s).Env = []corev1.EnvVar{{Name: name, Value: "x"}} }
}

func withTraffic(tt ...servingv1.TrafficTarget) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Traffic = tt }
}

func withTemplateAnnotations(kv ...string) func(*servingv1.Service) {
	return func(s *servingv1.Service) {
		s.Spec.Template.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			s.Spec.Template.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func withMountPath(path string) func(*servingv1.Service) {
	return func(s *servingv1.Service) {
		s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}}
		container(s).VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: path}}
	}
}

func pinned(rev string, percent int64) servingv1.TrafficTarget {
	return servingv1.TrafficTarget{RevisionName: rev, Percent: ptr.Int64(percent)}
}

func latest(percent int64) servingv1.TrafficTarget {
	return servingv1.TrafficTarget{Percent: ptr.Int64(percent)}
}

// TestInvalidServicesAreRejected creates each invalid Service through the
// apiserver and expects the webhook's denial naming the field path.
func TestInvalidServicesAreRejected(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if err := env.Client.Create(ctx, validService(ns)); err != nil {
		t.Fatalf("the base Service of the invalid cases is itself rejected: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*servingv1.Service)
		want   []string // substrings of the error after the denial prefix
	}{
		{"percent over 100", withTraffic(latest(101)), []string{"spec.traffic[0].percent"}},
		{"negative percent", withTraffic(latest(-1), pinned("hello-00001", 101)), []string{"spec.traffic[0].percent", "spec.traffic[1].percent"}},
		{"percents sum to 80", withTraffic(latest(40), pinned("hello-00001", 40)), []string{"Traffic targets sum to 80, want 100: spec.traffic"}},
		{"percents sum to 150", withTraffic(latest(100), pinned("hello-00001", 50)), []string{"Traffic targets sum to 150, want 100: spec.traffic"}},
		{"duplicate tags", withTraffic(
			servingv1.TrafficTarget{Tag: "a", Percent: ptr.Int64(50)},
			servingv1.TrafficTarget{Tag: "a", RevisionName: "hello-00001", Percent: ptr.Int64(50)}),
			[]string{`Multiple definitions for "a"`, "spec.traffic[0].tag", "spec.traffic[1].tag"}},
		{"tag not a DNS label", withTraffic(servingv1.TrafficTarget{Tag: "Not_A_Label", Percent: ptr.Int64(100)}), []string{"not a DNS 1035 label", "spec.traffic.tag[0]"}},
		{"url in spec", func(s *servingv1.Service) {
			t := latest(100)
			t.URL = mustURL("http://hello.example.com")
			s.Spec.Traffic = []servingv1.TrafficTarget{t}
		}, []string{"spec.traffic[0].url"}},
		{"latestRevision false without revisionName", withTraffic(servingv1.TrafficTarget{LatestRevision: ptr.Bool(false), Percent: ptr.Int64(100)}),
			[]string{"spec.traffic[0].latestRevision"}},
		{"latestRevision true with revisionName", withTraffic(servingv1.TrafficTarget{RevisionName: "hello-00001", LatestRevision: ptr.Bool(true), Percent: ptr.Int64(100)}),
			[]string{"spec.traffic[0].latestRevision"}},
		{"configurationName in a Service", withTraffic(servingv1.TrafficTarget{ConfigurationName: "hello", Percent: ptr.Int64(100)}),
			[]string{"spec.traffic[0].configurationName"}},
		{"reserved port 8012", withPort(8012), []string{"8012", "spec.template.spec.containers[0].ports.containerPort"}},
		{"reserved port 8013", withPort(8013), []string{"8013", "spec.template.spec.containers[0].ports.containerPort"}},
		{"reserved port 8022", withPort(8022), []string{"8022", "spec.template.spec.containers[0].ports.containerPort"}},
		{"reserved port 9090", withPort(9090), []string{"9090", "spec.template.spec.containers[0].ports.containerPort"}},
		{"reserved port 9091", withPort(9091), []string{"9091", "spec.template.spec.containers[0].ports.containerPort"}},
		{"reserved port 8008", withPort(8008), []string{"8008", "spec.template.spec.containers[0].ports.containerPort"}},
		{"port name not http1 or h2c", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{Name: "grpc", ContainerPort: 8080}}
		}, []string{"Port name grpc is not allowed: spec.template.spec.containers[0].ports"}},
		{"UDP port", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolUDP}}
		}, []string{"spec.template.spec.containers[0].ports.protocol"}},
		{"two ports in one container", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 8081}}
		}, []string{"more than one container port is set: spec.template.spec.containers[*].ports"}},
		{"two containers with a port each", func(s *servingv1.Service) {
			s.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "a", Image: "registry.example/a", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "b", Image: "registry.example/b", Ports: []corev1.ContainerPort{{ContainerPort: 8081}}},
			}
		}, []string{"more than one container port is set: spec.template.spec.containers[*].ports"}},
		{"reserved env var PORT", withEnvVar("PORT"), []string{"spec.template.spec.containers[0].env[0].name"}},
		{"reserved env var K_SERVICE", withEnvVar("K_SERVICE"), []string{"spec.template.spec.containers[0].env[0].name"}},
		{"reserved env var K_CONFIGURATION", withEnvVar("K_CONFIGURATION"), []string{"spec.template.spec.containers[0].env[0].name"}},
		{"reserved env var K_REVISION", withEnvVar("K_REVISION"), []string{"spec.template.spec.containers[0].env[0].name"}},
		{"container named queue-proxy", func(s *servingv1.Service) { container(s).Name = "queue-proxy" },
			[]string{"spec.template.spec.containers[0].name"}},
		{"no image", func(s *servingv1.Service) { container(s).Image = "" },
			[]string{"spec.template.spec.containers[0].image"}},
		{"min-scale above max-scale", withTemplateAnnotations("autoscaling.knative.dev/min-scale", "5", "autoscaling.knative.dev/max-scale", "2"),
			[]string{"spec.template.metadata.annotations.autoscaling.knative.dev/max-scale"}},
		{"window too short", withTemplateAnnotations("autoscaling.knative.dev/window", "1s"),
			[]string{"spec.template.metadata.annotations.autoscaling.knative.dev/window"}},
		{"window not a duration", withTemplateAnnotations("autoscaling.knative.dev/window", "soon"),
			[]string{"spec.template.metadata.annotations.autoscaling.knative.dev/window"}},
		{"initial-scale 0 (not allowed by default)", withTemplateAnnotations("autoscaling.knative.dev/initial-scale", "0"),
			[]string{"spec.template.metadata.annotations.autoscaling.knative.dev/initial-scale"}},
		{"target not a number", withTemplateAnnotations("autoscaling.knative.dev/target", "lots"),
			[]string{"spec.template.metadata.annotations.autoscaling.knative.dev/target"}},
		{"autoscaling annotation on Service metadata", func(s *servingv1.Service) {
			s.Annotations = map[string]string{"autoscaling.knative.dev/min-scale": "1"}
		}, []string{`invalid key name "autoscaling.knative.dev/min-scale": metadata.annotations`, `autoscaling annotations must be put under "spec.template.metadata.annotations"`}},
		{"BYO name without the service prefix", func(s *servingv1.Service) { s.Spec.Template.Name = "other-v1" },
			[]string{"spec.template.metadata.name"}},
		{"BYO name not a DNS-1035 label", func(s *servingv1.Service) { s.Spec.Template.Name = "hello-V1_x" },
			[]string{"spec.template.metadata.name"}},
		{"timeoutSeconds over 600", func(s *servingv1.Service) { s.Spec.Template.Spec.TimeoutSeconds = ptr.Int64(601) },
			[]string{"spec.template.spec.timeoutSeconds"}},
		{"containerConcurrency over 1000", func(s *servingv1.Service) { s.Spec.Template.Spec.ContainerConcurrency = ptr.Int64(1001) },
			[]string{"spec.template.spec.containerConcurrency"}},
		{"negative containerConcurrency", func(s *servingv1.Service) { s.Spec.Template.Spec.ContainerConcurrency = ptr.Int64(-1) },
			[]string{"spec.template.spec.containerConcurrency"}},
		{"bad serviceAccountName", func(s *servingv1.Service) { s.Spec.Template.Spec.ServiceAccountName = "Not_Valid" },
			[]string{"spec.template.spec.serviceAccountName"}},
		{"mount at /", withMountPath("/"), []string{"spec.template.spec.containers[0].volumeMounts[0].mountPath"}},
		{"mount at /dev", withMountPath("/dev"), []string{"spec.template.spec.containers[0].volumeMounts[0].mountPath"}},
		{"mount at /dev/log", withMountPath("/dev/log"), []string{"spec.template.spec.containers[0].volumeMounts[0].mountPath"}},
		// Knative checks named probe ports against the serving port (a number
		// is rewritten to it by the queue sidecar).
		{"readiness probe on another named port", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080}}
			container(s).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("admin")}}}
		}, []string{"Probe port must match container port", "spec.template.spec.containers[0].readinessProbe.httpGet.port"}},
		{"liveness probe on another named port", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{Name: "h2c", ContainerPort: 8080}}
			container(s).LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("admin")}}}
		}, []string{"Probe port must match container port", "spec.template.spec.containers[0].livenessProbe.tcpSocket.port"}},
		{"sidecar probe (multi-container-probing is off by default)", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			s.Spec.Template.Spec.Containers = append(s.Spec.Template.Spec.Containers, corev1.Container{
				Name: "sidecar", Image: "registry.example/sidecar",
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}})
		}, []string{"must not set the field(s): spec.template.spec.containers[1].readinessProbe"}},
		{"aggressive readiness probe with a timeout", func(s *servingv1.Service) {
			container(s).ReadinessProbe = &corev1.Probe{PeriodSeconds: 0, TimeoutSeconds: 5,
				ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
		}, []string{"spec.template.spec.containers[0].readinessProbe.timeoutSeconds"}},
		{"feature-gated nodeSelector", func(s *servingv1.Service) {
			s.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		}, []string{"must not set the field(s)", "spec.template.spec.nodeSelector"}},
		{"feature-gated hostPath volume", func(s *servingv1.Service) {
			s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}}
		}, []string{"expected exactly one, got neither", "spec.template.spec.volumes[0].configMap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validService(ns)
			s.Name = "invalid"
			tc.mutate(s)
			err := env.Client.Create(ctx, s)
			if err == nil {
				_ = env.Client.Delete(ctx, s)
				t.Fatal("created, want rejected")
			}
			msg := err.Error()
			if !strings.Contains(msg, deniedByValidation) {
				t.Fatalf("rejected, but not by the validating webhook: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("rejection does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
}

func mustURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}
