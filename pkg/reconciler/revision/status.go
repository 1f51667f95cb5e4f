package revision

import (
	"fmt"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// Reasons of the Active condition (Knative's words where it has them).
const (
	ReasonNoTraffic          = "NoTraffic"
	ReasonActivating         = "Activating"
	ReasonScalerNotReady     = "ScaledObjectNotReady"
	ReasonUnschedulable      = "Unschedulable"
	noTrafficMessage         = "The target is not receiving traffic."
	activatingMessage        = "Waiting for a pod of the revision to become ready."
	deployingMessage         = "Waiting for the first pod of the revision to become ready."
	reasonMissingForCondType = "Failed"
)

// observed is what the cluster says about a revision's children.
type observed struct {
	Deployment   *appsv1.Deployment
	ScaledObject *kedav1alpha1.ScaledObject
	Pods         []corev1.Pod
	ReadyPods    int
	// InitialReplicas is the scale the revision was created with (0 makes a
	// revision Ready without ever running a pod, as in Knative).
	InitialReplicas int32
	// Now is the reconcile's time, for the progress deadline of a revision
	// that has never had a ready pod.
	Now time.Time
}

// computeStatus sets the revision's conditions and replica counts from what
// is observed, with Knative's lifecycle helpers. It is pure: the caller
// writes the result.
func computeStatus(rev *v1.Revision, obs observed) {
	st := &rev.Status
	st.InitializeConditions()
	st.ObservedGeneration = rev.Generation
	if obs.Deployment == nil {
		st.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "Creating the revision's Deployment.")
		st.MarkActiveUnknown(v1.ReasonDeploying, "Creating the revision's Deployment.")
		return
	}
	dep := obs.Deployment
	desired := int32(1)
	if dep.Spec.Replicas != nil {
		desired = *dep.Spec.Replicas
	}
	ready := int32(obs.ReadyPods)
	st.ActualReplicas, st.DesiredReplicas = &ready, &desired

	wasHealthy := st.GetCondition(v1.RevisionConditionContainerHealthy).IsTrue()
	wasFailed := st.GetCondition(v1.RevisionConditionContainerHealthy).IsFalse()
	wasUnavailable := podsUnavailable(st)
	st.PropagateDeploymentStatus(&dep.Status)
	switch {
	case obs.ReadyPods > 0:
		st.MarkContainerHealthyTrue()
		st.MarkResourcesAvailableTrue()
	case desired > 0 && podFailure(st, dep, obs.Pods):
		// Marked by podFailure. Knative looks only while it wants pods:
		// those of a revision scaled to zero are on their way out.
	case wasFailed:
		// The failure stays until a pod is ready, as in Knative: the failed
		// pods being gone (scaled to zero, deleted) is no recovery.
	case wasUnavailable != nil && !wasHealthy && desired == 0 && obs.InitialReplicas > 0:
		// KEDA took a revision that never had a ready pod to zero after
		// its pods failed (a container still waiting at the progress
		// deadline): the Deployment at zero looks fine, the revision is not.
		// Knative keeps it failed too ("Initial scale was never achieved").
		st.MarkResourcesAvailableFalse(wasUnavailable.Reason, escapePercent(wasUnavailable.Message))
	case neverAchieved(rev, dep, desired, obs):
		// KEDA scaled it to zero before its Deployment's own deadline passed
		// (its cooldown is shorter), so the Deployment at zero looks fine.
		// Knative's autoscaler holds such a revision's scale until then and
		// fails it with these words.
		st.MarkResourcesAvailableFalse(v1.ReasonProgressDeadlineExceeded, "Initial scale was never achieved")
	case wasHealthy:
		// Once a revision has run, scaling to (and from) zero keeps it Ready
		// unless the Deployment itself fails (Knative's "scale target
		// initialized").
		if !st.GetCondition(v1.RevisionConditionResourcesAvailable).IsFalse() {
			st.MarkResourcesAvailableTrue()
		}
	case desired == 0 && obs.InitialReplicas == 0:
		st.MarkContainerHealthyTrue()
		if !st.GetCondition(v1.RevisionConditionResourcesAvailable).IsFalse() {
			st.MarkResourcesAvailableTrue()
		}
	default:
		st.MarkContainerHealthyUnknown(v1.ReasonDeploying, deployingMessage)
		if !st.GetCondition(v1.RevisionConditionResourcesAvailable).IsFalse() {
			st.MarkResourcesAvailableUnknown(v1.ReasonDeploying, deployingMessage)
		}
	}

	switch {
	case obs.ReadyPods > 0:
		st.MarkActiveTrue()
	case desired == 0:
		st.MarkActiveFalse(ReasonNoTraffic, noTrafficMessage)
	default:
		if reason, msg, bad := scaledObjectProblem(obs.ScaledObject); bad {
			st.MarkActiveUnknown(reason, msg)
		} else {
			st.MarkActiveUnknown(ReasonActivating, activatingMessage)
		}
	}
	fillEmptyMessages(st)
}

// neverAchieved reports whether the revision was created to run pods, has
// never had a ready one, runs none now, and its progress deadline (counted
// from its creation: a revision's spec never changes) has passed.
func neverAchieved(rev *v1.Revision, dep *appsv1.Deployment, desired int32, obs observed) bool {
	if desired != 0 || obs.InitialReplicas == 0 || obs.Now.IsZero() ||
		rev.Status.GetCondition(v1.RevisionConditionContainerHealthy).IsTrue() {
		return false
	}
	return !obs.Now.Before(progressDeadlineOf(rev, dep))
}

// progressDeadlineOf is when a revision that never had a ready pod has
// failed to start: its creation plus the Deployment's progress deadline
// (Kubernetes' default, 600 s, when unset).
func progressDeadlineOf(rev *v1.Revision, dep *appsv1.Deployment) time.Time {
	d := 600 * time.Second
	if p := dep.Spec.ProgressDeadlineSeconds; p != nil {
		d = time.Duration(*p) * time.Second
	}
	return rev.CreationTimestamp.Add(d)
}

// untilDeadline is how long until the progress deadline of a revision
// still waiting for its first ready pod (0: none due). Nothing else may
// wake the reconciler then: KEDA may have scaled it to zero already.
func untilDeadline(rev *v1.Revision, dep *appsv1.Deployment, initial int32, now time.Time) time.Duration {
	if dep == nil || initial == 0 || !rev.Status.GetCondition(v1.RevisionConditionResourcesAvailable).IsUnknown() {
		return 0
	}
	if d := progressDeadlineOf(rev, dep).Sub(now); d > 0 {
		return d + time.Second // past it for sure, whatever the clocks' rounding
	}
	return 0
}

// earliest is the shorter of two requeue delays, 0 meaning none.
func earliest(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// podsUnavailable is the revision's ResourcesAvailable failure, if its
// pods or its Deployment caused it: not a child the reconciler could not
// write, which is over once the write succeeds.
func podsUnavailable(st *v1.RevisionStatus) *apis.Condition {
	c := st.GetCondition(v1.RevisionConditionResourcesAvailable)
	if !c.IsFalse() {
		return nil
	}
	switch c.Reason {
	case ReasonFailedCreate, ReasonFailedUpdate, v1.ReasonNotOwned:
		return nil
	}
	return c.DeepCopy()
}

// podFailure marks the revision failed for the first pod problem found, as
// Knative's reconcileDeployment does (reconcile_resources.go): a pod that
// cannot be scheduled; a user container that exited and was restarted,
// whatever its exit code; once the Deployment's progress deadline has passed,
// a user container still waiting (an image that cannot be pulled, a crash
// loop). A waiting container fails nothing before the deadline: a pull may
// still succeed, and a missing image is normally caught earlier, by digest
// resolution. The queue-proxy sidecar is not looked at, as in Knative: it
// is not the user's. It reports whether it found a problem.
func podFailure(st *v1.RevisionStatus, dep *appsv1.Deployment, pods []corev1.Pod) bool {
	timedOut := progressDeadlineExceeded(dep)
	for i := range pods {
		if unschedulable(st, &pods[i]) || containerFailure(st, &pods[i], timedOut) {
			return true
		}
	}
	return false
}

func unschedulable(st *v1.RevisionStatus, pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			st.MarkResourcesAvailableFalse(ReasonUnschedulable, escapePercent(c.Message))
			return true
		}
	}
	return false
}

// containerFailure looks at each user container's last termination, not its
// current one: a container that ends with its pod (deleted, scaled down) is
// no failure, one that is restarted is. Once timedOut it also looks at why a
// container waits.
func containerFailure(st *v1.RevisionStatus, pod *corev1.Pod, timedOut bool) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == resources.QueueContainerName {
			continue
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			st.MarkContainerHealthyFalse(v1.ExitCodeReason(t.ExitCode), v1.RevisionContainerExitingMessage(exitDetail(cs.Name, t)))
			return true
		}
		if w := cs.State.Waiting; w != nil && timedOut {
			st.MarkResourcesAvailableFalse(w.Reason, escapePercent(w.Message))
			return true
		}
	}
	return false
}

// exitDetail is the container's termination message, else Knative's words
// for an exit code 0. Knative leaves the message empty for another code;
// csclr names the code, as the default terminationMessagePolicy (File)
// leaves most crashes without a message.
func exitDetail(container string, t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Message != "":
		return t.Message
	case t.ExitCode == 0:
		return "container exited with no error"
	}
	return fmt.Sprintf("container %q exited with code %d (%s)", container, t.ExitCode, t.Reason)
}

// progressDeadlineExceeded reports whether the Deployment has given up
// progressing (Knative's hasDeploymentTimedOut).
func progressDeadlineExceeded(dep *appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == v1.ReasonProgressDeadlineExceeded {
			return true
		}
	}
	return false
}

// escapePercent keeps a message intact through MarkResourcesAvailableFalse,
// which takes it as a format (the kubelet's and the API server's messages
// may hold a %).
func escapePercent(msg string) string { return strings.ReplaceAll(msg, "%", "%%") }

// scaledObjectProblem reports KEDA's complaint about the ScaledObject, if any.
func scaledObjectProblem(so *kedav1alpha1.ScaledObject) (reason, message string, bad bool) {
	if so == nil {
		return "", "", false
	}
	c := so.Status.Conditions.GetReadyCondition()
	if c.Status != metav1.ConditionFalse {
		return "", "", false
	}
	return ReasonScalerNotReady, fmt.Sprintf("KEDA: %s: %s", c.Reason, c.Message), true
}

// fillEmptyMessages gives every False condition a reason and a message, so
// that clients (kn) never show an empty error.
func fillEmptyMessages(st *v1.RevisionStatus) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Status != corev1.ConditionFalse {
			continue
		}
		if c.Reason == "" {
			c.Reason = reasonMissingForCondType
		}
		if c.Message == "" {
			c.Message = fmt.Sprintf("%s is False (%s)", c.Type, c.Reason)
		}
	}
}

// readyStatus reports the Ready condition's status.
func readyStatus(rev *v1.Revision) corev1.ConditionStatus {
	if c := rev.Status.GetCondition(v1.RevisionConditionReady); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}
