package resources

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/queue"
)

// QueueContainerName is the name of the queue sidecar in every revision pod
// (reserved for users by Knative's validation).
const QueueContainerName = "queue-proxy"

// DrainSeconds is how long the queue sidecar may take, on top of the
// revision's request timeout, to see its endpoint removed and stop taking new
// work before its last request runs to the timeout.
const DrainSeconds = 30

// defaultUserPort is Knative's port when the serving container declares none.
const defaultUserPort = 8080

// MakeDeployment builds the Deployment that runs a revision: its containers
// with Knative's runtime contract plus the queue sidecar.
//
// Replicas is left nil: KEDA (through the ScaledObject's HPA) owns the
// replica count. The reconciler sets it once, at create, to the initial scale
// (see InitialReplicas and SCALING.md) and never again.
func MakeDeployment(rev *v1.Revision, cfg Config) (*appsv1.Deployment, error) {
	pod, err := makePodSpec(rev, cfg)
	if err != nil {
		return nil, err
	}
	deadline, err := progressDeadline(rev, cfg)
	if err != nil {
		return nil, err
	}
	return &appsv1.Deployment{
		ObjectMeta: makeObjectMeta(rev, names.Deployment(rev.Name)),
		Spec: appsv1.DeploymentSpec{
			Selector:                makeSelector(rev),
			ProgressDeadlineSeconds: ptr.To(int32(deadline.Seconds())),
			// A revision's spec never changes, so a rollout only happens when
			// the cluster config changes (a new queue image): keep capacity.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromString("25%")),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: makePodObjectMeta(rev),
				Spec:       *pod,
			},
		},
	}, nil
}

func makePodObjectMeta(rev *v1.Revision) (meta metav1.ObjectMeta) {
	meta.Labels = makePodLabels(rev)
	meta.Annotations = makeAnnotations(rev)
	return meta
}

func progressDeadline(rev *v1.Revision, cfg Config) (time.Duration, error) {
	if _, s, ok := serving.ProgressDeadlineAnnotation.Get(rev.Annotations); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("revision %s/%s: annotation %s=%q is not a positive duration: fix the annotation on the template",
				rev.Namespace, rev.Name, serving.ProgressDeadlineAnnotationKey, s)
		}
		return d, nil
	}
	return cfg.Deployment.ProgressDeadline, nil
}

func makePodSpec(rev *v1.Revision, cfg Config) (*corev1.PodSpec, error) {
	spec := rev.Spec.PodSpec.DeepCopy()
	servingContainer := rev.Spec.GetContainer()
	if servingContainer == nil || len(spec.Containers) == 0 {
		return nil, fmt.Errorf("revision %s/%s has no containers: the webhook should have rejected it", rev.Namespace, rev.Name)
	}
	userPort := servingPort(servingContainer)
	digests := imageDigests(rev)
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if d, ok := digests[c.Name]; ok {
			c.Image = d
		}
		c.Env = append(c.Env, runtimeEnv(rev)...)
		if c.Name != servingContainer.Name {
			continue
		}
		c.Env = append([]corev1.EnvVar{{Name: "PORT", Value: fmt.Sprint(userPort)}}, c.Env...)
		// The kubelet probes the queue, and the queue probes this container.
		c.ReadinessProbe = nil
		c.LivenessProbe = withPort(c.LivenessProbe, userPort)
		// Keep the application alive until the queue has drained its requests.
		c.Lifecycle = &corev1.Lifecycle{PreStop: drainHook()}
	}
	qc, err := makeQueueContainer(rev, cfg, servingContainer, userPort)
	if err != nil {
		return nil, err
	}
	spec.Containers = append(spec.Containers, *qc)
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = cfg.Defaults.EnableServiceLinks
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptr.To(false)
	}
	spec.TerminationGracePeriodSeconds = ptr.To(timeoutSeconds(rev, cfg) + DrainSeconds)
	return spec, nil
}

// runtimeEnv is Knative's runtime contract; PORT is added to the serving
// container only (sidecars may set their own).
func runtimeEnv(rev *v1.Revision) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "K_REVISION", Value: rev.Name},
		{Name: "K_CONFIGURATION", Value: rev.Labels[serving.ConfigurationLabelKey]},
		{Name: "K_SERVICE", Value: rev.Labels[serving.ServiceLabelKey]},
	}
}

func servingPort(c *corev1.Container) int32 {
	if len(c.Ports) > 0 && c.Ports[0].ContainerPort != 0 {
		return c.Ports[0].ContainerPort
	}
	return defaultUserPort
}

// imageDigests maps container names to their resolved image references.
func imageDigests(rev *v1.Revision) map[string]string {
	out := map[string]string{}
	for _, s := range rev.Status.ContainerStatuses {
		if s.ImageDigest != "" {
			out[s.Name] = s.ImageDigest
		}
	}
	return out
}

func timeoutSeconds(rev *v1.Revision, cfg Config) int64 {
	if t := rev.Spec.TimeoutSeconds; t != nil && *t > 0 {
		return *t
	}
	return cfg.Defaults.RevisionTimeoutSeconds
}

// withPort fills an unset HTTP/TCP/gRPC port with the user port: Knative lets
// users omit it, the kubelet does not.
func withPort(p *corev1.Probe, port int32) *corev1.Probe {
	if p == nil {
		return nil
	}
	p = p.DeepCopy()
	switch {
	case p.HTTPGet != nil && p.HTTPGet.Port.IntValue() == 0 && p.HTTPGet.Port.StrVal == "":
		p.HTTPGet.Port = intstr.FromInt32(port)
	case p.TCPSocket != nil && p.TCPSocket.Port.IntValue() == 0 && p.TCPSocket.Port.StrVal == "":
		p.TCPSocket.Port = intstr.FromInt32(port)
	case p.GRPC != nil && p.GRPC.Port == 0:
		p.GRPC.Port = port
	}
	return p
}

func drainHook() *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: queue.DrainPath,
		Port: intstr.FromInt32(queue.AdminPort),
	}}
}
