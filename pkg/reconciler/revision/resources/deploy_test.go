package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/tracing"
)

// wantDeployment is the Deployment of testRev() with DefaultConfig().
func wantDeployment() *appsv1.Deployment {
	podLabels := wantLabels()
	podLabels["app"] = "hello-00001"
	drain := &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromInt32(8022)}}}
	env := func(n, v string) corev1.EnvVar { return corev1.EnvVar{Name: n, Value: v} }
	return &appsv1.Deployment{
		ObjectMeta: wantMeta("hello-00001-deployment"),
		Spec: appsv1.DeploymentSpec{
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{serving.RevisionUID: "rev-uid"}},
			ProgressDeadlineSeconds: ptr.To[int32](600),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromString("25%")),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: map[string]string{"client.knative.dev/user-image": "img"}},
				Spec: corev1.PodSpec{
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](330),
					Containers: []corev1.Container{{
						Name:  "user-container",
						Image: "registry.example/hello:v1",
						Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080}},
						Env: []corev1.EnvVar{
							env("PORT", "8080"), env("K_REVISION", "hello-00001"),
							env("K_CONFIGURATION", "hello"), env("K_SERVICE", "hello"),
						},
						Lifecycle: drain,
					}, {
						Name:  "queue-proxy",
						Image: "csclr.dev/queue",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("25m")},
						},
						Ports: []corev1.ContainerPort{
							{Name: "queue-port", ContainerPort: 8012, Protocol: corev1.ProtocolTCP},
							{Name: "queue-admin", ContainerPort: 8022, Protocol: corev1.ProtocolTCP},
							{Name: "http-metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
						},
						Env: []corev1.EnvVar{
							env("QUEUE_SERVING_PORT", "8012"), env("QUEUE_ADMIN_PORT", "8022"), env("QUEUE_METRICS_PORT", "9090"),
							env("USER_PORT", "8080"), env("CONTAINER_CONCURRENCY", "0"),
							env("REVISION_TIMEOUT_SECONDS", "300"), env("REVISION_RESPONSE_START_TIMEOUT_SECONDS", "0"),
							env("REVISION_IDLE_TIMEOUT_SECONDS", "0"),
							env("SERVING_READINESS_PROBE", `{"tcpSocket":{"port":8080},"successThreshold":1}`),
							env("SERVING_NAMESPACE", "ns"), env("SERVING_SERVICE", "hello"),
							env("SERVING_CONFIGURATION", "hello"), env("SERVING_REVISION", "hello-00001"),
							{Name: "SERVING_POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "SERVING_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8022)}},
							PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1,
						},
						Lifecycle: drain,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
					}},
				},
			},
		},
	}
}

func setQueueEnv(d *appsv1.Deployment, name, value string) {
	c := &d.Spec.Template.Spec.Containers[len(d.Spec.Template.Spec.Containers)-1]
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i].Value = value
		}
	}
}

func TestMakeDeployment(t *testing.T) {
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		cfg  func(*Config)
		want func(*appsv1.Deployment)
	}{{
		name: "defaults",
		rev:  testRev(),
		want: func(*appsv1.Deployment) {},
	}, {
		name: "resolved digest replaces the tag",
		rev: testRev(func(r *v1.Revision) {
			r.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "user-container", ImageDigest: "registry.example/hello@sha256:abc"}}
		}),
		want: func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/hello@sha256:abc"
		},
	}, {
		name: "progress deadline, queue resources and timeout from the template",
		rev: testRev(
			withAnnotations(serving.ProgressDeadlineAnnotationKey, "120s",
				serving.QueueSidecarCPUResourceLimitAnnotationKey, "1",
				serving.QueueSidecarMemoryResourceRequestAnnotationKey, "64Mi"),
			func(r *v1.Revision) {
				r.Spec.TimeoutSeconds = ptr.To[int64](60)
				r.Spec.ResponseStartTimeoutSeconds = ptr.To[int64](10)
				r.Spec.IdleTimeoutSeconds = ptr.To[int64](20)
				r.Spec.ContainerConcurrency = ptr.To[int64](5)
			}),
		want: func(d *appsv1.Deployment) {
			ann := map[string]string{"client.knative.dev/user-image": "img",
				serving.ProgressDeadlineAnnotationKey:                  "120s",
				serving.QueueSidecarCPUResourceLimitAnnotationKey:      "1",
				serving.QueueSidecarMemoryResourceRequestAnnotationKey: "64Mi"}
			d.Annotations, d.Spec.Template.Annotations = ann, ann
			d.Spec.ProgressDeadlineSeconds = ptr.To[int32](120)
			d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](90)
			d.Spec.Template.Spec.Containers[1].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("25m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}
			setQueueEnv(d, "REVISION_TIMEOUT_SECONDS", "60")
			setQueueEnv(d, "REVISION_RESPONSE_START_TIMEOUT_SECONDS", "10")
			setQueueEnv(d, "REVISION_IDLE_TIMEOUT_SECONDS", "20")
			setQueueEnv(d, "CONTAINER_CONCURRENCY", "5")
		},
	}, {
		name: "progress deadline from config-deployment",
		rev:  testRev(),
		cfg:  func(c *Config) { c.Deployment.ProgressDeadline = 42e9 },
		want: func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr.To[int32](42) },
	}, {
		name: "HTTP readiness probe with timings moves to the queue, liveness stays with the port filled",
		rev: testRev(func(r *v1.Revision) {
			c := &r.Spec.Containers[0]
			c.ReadinessProbe = &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}},
				PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 4, SuccessThreshold: 1, InitialDelaySeconds: 3,
			}
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, PeriodSeconds: 10}
		}),
		want: func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
			setQueueEnv(d, "SERVING_READINESS_PROBE",
				`{"httpGet":{"path":"/healthz","port":8080},"initialDelaySeconds":3,"timeoutSeconds":2,"periodSeconds":5,"successThreshold":1,"failureThreshold":4}`)
			p := d.Spec.Template.Spec.Containers[1].ReadinessProbe
			p.InitialDelaySeconds, p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold = 3, 5, 2, 4
		},
	}, {
		name: "sidecar container gets the K_ variables but no PORT",
		rev: testRev(func(r *v1.Revision) {
			r.Spec.Containers = append(r.Spec.Containers, corev1.Container{Name: "sidecar", Image: "side"})
			r.Spec.EnableServiceLinks = ptr.To(true)
		}),
		want: func(d *appsv1.Deployment) {
			ps := &d.Spec.Template.Spec
			ps.EnableServiceLinks = ptr.To(true)
			side := corev1.Container{Name: "sidecar", Image: "side", Env: ps.Containers[0].Env[1:]}
			ps.Containers = []corev1.Container{ps.Containers[0], side, ps.Containers[1]}
		},
	}, {
		name: "tracing off in config-tracing: no tracing variables",
		rev:  testRev(),
		cfg: func(c *Config) {
			c.Tracing = tracing.Config{Backend: tracing.BackendNone, Endpoint: "http://collector:4318/v1/traces", SampleRate: 1}
		},
		want: func(*appsv1.Deployment) {},
	}, {
		name: "tracing on in config-tracing: the queue gets it",
		rev:  testRev(),
		cfg: func(c *Config) {
			c.Tracing = tracing.Config{Backend: tracing.BackendOTLP, Endpoint: "http://collector.obs:4318/v1/traces", SampleRate: 0.25}
		},
		want: func(d *appsv1.Deployment) {
			q := &d.Spec.Template.Spec.Containers[1]
			q.Env = append(q.Env,
				corev1.EnvVar{Name: "TRACING_CONFIG_BACKEND", Value: "otlp"},
				corev1.EnvVar{Name: "TRACING_CONFIG_OTLP_ENDPOINT", Value: "http://collector.obs:4318/v1/traces"},
				corev1.EnvVar{Name: "TRACING_CONFIG_SAMPLE_RATE", Value: "0.25"})
		},
	}, {
		// Traffic moving changes these on the Revision; on the pod
		// template they would roll its pods.
		name: "route labels stay on the revision",
		rev: testRev(func(r *v1.Revision) {
			r.Labels[serving.RouteLabelKey] = "hello"
			r.Labels[serving.RoutingStateLabelKey] = string(v1.RoutingStateActive)
		}),
		want: func(*appsv1.Deployment) {},
	}, {
		name: "user app label wins",
		rev:  testRev(func(r *v1.Revision) { r.Labels["app"] = "mine" }),
		want: func(d *appsv1.Deployment) {
			d.Labels["app"] = "mine"
			d.Spec.Template.Labels["app"] = "mine"
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			want := wantDeployment()
			tc.want(want)
			got, err := MakeDeployment(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MakeDeployment (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMakeDeploymentErrors(t *testing.T) {
	for name, rev := range map[string]*v1.Revision{
		"bad progress deadline": testRev(withAnnotations(serving.ProgressDeadlineAnnotationKey, "soon")),
		"bad queue quantity":    testRev(withAnnotations(serving.QueueSidecarCPUResourceRequestAnnotationKey, "lots")),
		"no containers":         testRev(func(r *v1.Revision) { r.Spec.Containers = nil }),
	} {
		if _, err := MakeDeployment(rev, DefaultConfig()); err == nil {
			t.Errorf("%s: MakeDeployment succeeded, want an error", name)
		}
	}
}

// The env the builder writes is what the sidecar reads back.
func TestQueueEnvIsTheSidecarsContract(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Tracing = tracing.Config{Backend: tracing.BackendOTLP, Endpoint: "https://collector.obs/v1/traces", SampleRate: 0.5}
	d, err := MakeDeployment(testRev(withCC(3)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[1].Env {
		env[e.Name] = e.Value
	}
	got, err := queue.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the sidecar rejects the builder's env: %v", err)
	}
	if got.Tracing != cfg.Tracing || got.ContainerConcurrency != 3 || got.RevisionKey() != "ns/hello-00001" {
		t.Errorf("sidecar read tracing %+v, cc %d, revision %s; want %+v, 3, ns/hello-00001", got.Tracing, got.ContainerConcurrency, got.RevisionKey(), cfg.Tracing)
	}
}
