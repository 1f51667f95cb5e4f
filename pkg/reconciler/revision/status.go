package revision

import (
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
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
	st.PropagateDeploymentStatus(&dep.Status)
	switch {
	case obs.ReadyPods > 0:
		st.MarkContainerHealthyTrue()
		st.MarkResourcesAvailableTrue()
	case podFailure(st, obs.Pods):
		// Marked by podFailure.
	case wasFailed:
		// The failure stays until a pod is ready, as in Knative: the failed
		// pods being gone (scaled to zero, deleted) is no recovery.
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

// podFailure marks the revision failed for the first pod problem found:
// an image that cannot be pulled, a container that exits, a pod that cannot
// be scheduled. It reports whether it found one.
func podFailure(st *v1.RevisionStatus, pods []corev1.Pod) bool {
	for i := range pods {
		pod := &pods[i]
		for _, cs := range pod.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && isImagePullFailure(w.Reason) {
				msg := v1.RevisionContainerMissingMessage(cs.Image, fmt.Sprintf("%s: %s", w.Reason, w.Message))
				st.MarkContainerHealthyFalse(v1.ReasonContainerMissing, msg)
				st.MarkResourcesAvailableFalse(v1.ReasonContainerMissing, msg)
				return true
			}
			term := cs.State.Terminated
			if term == nil {
				term = cs.LastTerminationState.Terminated
			}
			if term != nil && term.ExitCode != 0 {
				detail := term.Message
				if detail == "" {
					detail = fmt.Sprintf("container %q exited with code %d (%s)", cs.Name, term.ExitCode, term.Reason)
				}
				st.MarkContainerHealthyFalse(v1.ExitCodeReason(term.ExitCode), v1.RevisionContainerExitingMessage(detail))
				return true
			}
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				st.MarkResourcesAvailableFalse(ReasonUnschedulable, c.Message)
				return true
			}
		}
	}
	return false
}

func isImagePullFailure(reason string) bool {
	switch reason {
	case "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable":
		return true
	}
	return false
}

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
