package resources

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmap"
	"knative.dev/serving/pkg/apis/autoscaling"
	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/queue"
)

// Port names of the queue sidecar (unique in the pod, at most 15 characters).
const (
	QueuePortName   = "queue-port"
	AdminPortName   = "queue-admin"
	MetricsPortName = "http-metrics"
)

// makeQueueContainer builds the queue sidecar: its configuration is the
// environment contract of pkg/queue; the kubelet probes its admin port, and
// it probes the serving container with the user's readiness probe.
func makeQueueContainer(rev *v1.Revision, cfg Config, user *corev1.Container, userPort int32) (*corev1.Container, error) {
	userProbe := withPort(user.ReadinessProbe, userPort)
	probeJSON := ""
	if userProbe != nil {
		b, err := json.Marshal(userProbe)
		if err != nil {
			return nil, fmt.Errorf("revision %s/%s: encoding the readiness probe of container %q: %w", rev.Namespace, rev.Name, user.Name, err)
		}
		probeJSON = string(b)
	}
	res, err := queueResources(rev, cfg)
	if err != nil {
		return nil, err
	}
	res = withTriggerRequest(res, paView(rev, cfg))
	return &corev1.Container{
		Name:      QueueContainerName,
		Image:     cfg.QueueImage,
		Resources: res,
		Ports: []corev1.ContainerPort{
			{Name: QueuePortName, ContainerPort: queue.ServingPort, Protocol: corev1.ProtocolTCP},
			{Name: AdminPortName, ContainerPort: queue.AdminPort, Protocol: corev1.ProtocolTCP},
			{Name: MetricsPortName, ContainerPort: queue.MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		Env:            queueEnv(rev, cfg, userPort, probeJSON),
		ReadinessProbe: queueReadinessProbe(userProbe),
		Lifecycle:      &corev1.Lifecycle{PreStop: drainHook()},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}, nil
}

func queueEnv(rev *v1.Revision, cfg Config, userPort int32, probeJSON string) []corev1.EnvVar {
	var responseStart, idle int64
	if t := rev.Spec.ResponseStartTimeoutSeconds; t != nil {
		responseStart = *t
	}
	if t := rev.Spec.IdleTimeoutSeconds; t != nil {
		idle = *t
	}
	fieldRef := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	env := []corev1.EnvVar{
		{Name: queue.EnvServingPort, Value: strconv.Itoa(queue.ServingPort)},
		{Name: queue.EnvAdminPort, Value: strconv.Itoa(queue.AdminPort)},
		{Name: queue.EnvMetricsPort, Value: strconv.Itoa(queue.MetricsPort)},
		{Name: queue.EnvUserPort, Value: strconv.Itoa(int(userPort))},
		{Name: queue.EnvContainerConcurrency, Value: strconv.FormatInt(rev.Spec.GetContainerConcurrency(), 10)},
		{Name: queue.EnvTimeoutSeconds, Value: strconv.FormatInt(timeoutSeconds(rev, cfg), 10)},
		{Name: queue.EnvResponseStartTimeout, Value: strconv.FormatInt(responseStart, 10)},
		{Name: queue.EnvIdleTimeout, Value: strconv.FormatInt(idle, 10)},
		{Name: queue.EnvReadinessProbe, Value: probeJSON},
		{Name: queue.EnvNamespace, Value: rev.Namespace},
		{Name: queue.EnvService, Value: rev.Labels[serving.ServiceLabelKey]},
		{Name: queue.EnvConfiguration, Value: rev.Labels[serving.ConfigurationLabelKey]},
		{Name: queue.EnvRevision, Value: rev.Name},
		{Name: queue.EnvPodName, ValueFrom: fieldRef("metadata.name")},
		{Name: queue.EnvPodIP, ValueFrom: fieldRef("status.podIP")},
	}
	// Only when tracing is on, so that pods do not change (and roll) in
	// clusters that never use it.
	for _, kv := range cfg.Tracing.Env() {
		env = append(env, corev1.EnvVar{Name: kv[0], Value: kv[1]})
	}
	return env
}

// queueReadinessProbe is the kubelet's probe of the queue. It keeps the
// user's timings; Knative's aggressive mode (periodSeconds 0) becomes a
// one-second kubelet period while the queue itself probes the user container
// much faster.
func queueReadinessProbe(user *corev1.Probe) *corev1.Probe {
	p := &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: queue.ReadyPath,
			Port: intstr.FromInt32(queue.AdminPort),
		}},
		PeriodSeconds:    1,
		TimeoutSeconds:   1,
		FailureThreshold: 3,
		SuccessThreshold: 1,
	}
	if user == nil || user.PeriodSeconds == 0 {
		return p
	}
	p.InitialDelaySeconds = user.InitialDelaySeconds
	p.PeriodSeconds = user.PeriodSeconds
	if user.TimeoutSeconds > 0 {
		p.TimeoutSeconds = user.TimeoutSeconds
	}
	if user.FailureThreshold > 0 {
		p.FailureThreshold = user.FailureThreshold
	}
	return p
}

// queueResources takes each of the sidecar's requests and limits from its
// queue.sidecar.serving.knative.dev/* annotation, else from config-deployment.
func queueResources(rev *v1.Revision, cfg Config) (corev1.ResourceRequirements, error) {
	dc := cfg.Deployment
	var res corev1.ResourceRequirements
	for _, r := range []struct {
		key  kmap.KeyPriority
		list *corev1.ResourceList
		name corev1.ResourceName
		def  *resource.Quantity
	}{
		{serving.QueueSidecarCPUResourceRequestAnnotation, &res.Requests, corev1.ResourceCPU, dc.QueueSidecarCPURequest},
		{serving.QueueSidecarMemoryResourceRequestAnnotation, &res.Requests, corev1.ResourceMemory, dc.QueueSidecarMemoryRequest},
		{serving.QueueSidecarEphemeralStorageResourceRequestAnnotation, &res.Requests, corev1.ResourceEphemeralStorage, dc.QueueSidecarEphemeralStorageRequest},
		{serving.QueueSidecarCPUResourceLimitAnnotation, &res.Limits, corev1.ResourceCPU, dc.QueueSidecarCPULimit},
		{serving.QueueSidecarMemoryResourceLimitAnnotation, &res.Limits, corev1.ResourceMemory, dc.QueueSidecarMemoryLimit},
		{serving.QueueSidecarEphemeralStorageResourceLimitAnnotation, &res.Limits, corev1.ResourceEphemeralStorage, dc.QueueSidecarEphemeralStorageLimit},
	} {
		q := r.def
		if k, v, ok := r.key.Get(rev.Annotations); ok {
			parsed, err := resource.ParseQuantity(v)
			if err != nil {
				return res, fmt.Errorf("revision %s/%s: annotation %s=%q is not a quantity: %w", rev.Namespace, rev.Name, k, v, err)
			}
			q = &parsed
		}
		if q == nil {
			continue
		}
		if *r.list == nil {
			*r.list = corev1.ResourceList{}
		}
		(*r.list)[r.name] = q.DeepCopy()
	}
	return res, nil
}

// QueueMemoryRequestForHPA is the queue sidecar's memory request when the
// revision's HPA class scales on memory and the operator set none. It only
// reserves memory for scheduling (no limit comes with it) and does not enter
// the scaling math (the memory trigger is an AverageValue, not a
// utilization). cmd/queue proxying to a local hello-world server held about
// 19 MiB resident idle, 24 MiB after 10 concurrent clients and 32 MiB after
// 100 (70 MiB after 500): 32Mi covers an idle to moderately loaded sidecar
// without making the pod noticeably harder to schedule.
const QueueMemoryRequestForHPA = "32Mi"

// withTriggerRequest gives the queue a memory request when the revision's
// ScaledObject gets KEDA's memory trigger and the operator set neither a
// request nor a limit: KEDA's webhook refuses a cpu/memory trigger unless
// every container requests the resource, and config-deployment has no
// memory request by default. A limit alone is enough for KEDA (and the
// apiserver defaults the pod's request to it; a larger request would make
// the pod invalid). Any setting, even 0, is the operator's and is kept.
// The cpu trigger needs nothing: config-deployment always has a cpu request
// (25m unless set otherwise; an empty value does not parse). Every other
// revision is returned as it is, so its pods do not change and roll.
func withTriggerRequest(res corev1.ResourceRequirements, pa *autoscalingv1alpha1.PodAutoscaler) corev1.ResourceRequirements {
	if !onResourceMetric(pa) || makeResourceTrigger(pa).Type != autoscaling.Memory {
		return res
	}
	_, request := res.Requests[corev1.ResourceMemory]
	_, limit := res.Limits[corev1.ResourceMemory]
	if request || limit {
		return res
	}
	out := *res.DeepCopy()
	if out.Requests == nil {
		out.Requests = corev1.ResourceList{}
	}
	out.Requests[corev1.ResourceMemory] = resource.MustParse(QueueMemoryRequestForHPA)
	return out
}
