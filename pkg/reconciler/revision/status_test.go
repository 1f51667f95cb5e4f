package revision

import (
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

type cond struct {
	status        corev1.ConditionStatus
	reason, msgIn string // msgIn: a substring the message must contain
}

func dep(replicas int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)}, Status: appsv1.DeploymentStatus{Conditions: conds}}
}

func podWith(cs corev1.ContainerStatus) corev1.Pod {
	return corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{cs}}}
}

func TestComputeStatus(t *testing.T) {
	progressing := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "x" has timed out progressing.`}
	for _, tc := range []struct {
		name       string
		healthy    bool // ContainerHealthy was True before
		failed     bool // ContainerHealthy was False (ExitCode5) before
		obs        observed
		ready      cond
		active     cond
		wantCounts [2]int32 // actual, desired
	}{{
		name:   "no deployment yet",
		obs:    observed{},
		ready:  cond{corev1.ConditionUnknown, "Deploying", "Creating"},
		active: cond{corev1.ConditionUnknown, "Deploying", "Creating"},
	}, {
		name:       "first pod starting",
		obs:        observed{Deployment: dep(1, progressing), InitialReplicas: 1},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionUnknown, "Activating", "Waiting"},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "a pod is ready",
		obs:        observed{Deployment: dep(2, progressing), ReadyPods: 1, InitialReplicas: 1},
		ready:      cond{corev1.ConditionTrue, "", ""},
		active:     cond{corev1.ConditionTrue, "", ""},
		wantCounts: [2]int32{1, 2},
	}, {
		name:       "scaled to zero after running: Ready, not Active",
		healthy:    true,
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1},
		ready:      cond{corev1.ConditionTrue, "", ""},
		active:     cond{corev1.ConditionFalse, "NoTraffic", "not receiving traffic"},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "initial scale zero: Ready without a pod",
		obs:        observed{Deployment: dep(0), InitialReplicas: 0},
		ready:      cond{corev1.ConditionTrue, "", ""},
		active:     cond{corev1.ConditionFalse, "NoTraffic", "not receiving traffic"},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "progress deadline exceeded",
		obs:        observed{Deployment: dep(1, deadline), InitialReplicas: 1},
		ready:      cond{corev1.ConditionFalse, "ProgressDeadlineExceeded", "timed out"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name: "image pull failure",
		obs: observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(corev1.ContainerStatus{
			Name: "user-container", Image: "example/nope:v1",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}},
		})}},
		ready:      cond{corev1.ConditionFalse, "ContainerMissing", `Unable to fetch image "example/nope:v1": ImagePullBackOff: not found`},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name: "crashing container",
		obs: observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(corev1.ContainerStatus{
			Name:                 "user-container",
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 5, Reason: "Error"}},
		})}},
		ready:      cond{corev1.ConditionFalse, "ExitCode5", `Container failed with: container "user-container" exited with code 5`},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "failed, then its pods are gone: still failed",
		failed:     true,
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1},
		ready:      cond{corev1.ConditionFalse, "ExitCode5", "exited with code 5"},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "failed, then a pod is ready: recovered",
		failed:     true,
		obs:        observed{Deployment: dep(1, progressing), ReadyPods: 1, InitialReplicas: 1},
		ready:      cond{corev1.ConditionTrue, "", ""},
		active:     cond{corev1.ConditionTrue, "", ""},
		wantCounts: [2]int32{1, 1},
	}, {
		name: "KEDA rejects the ScaledObject",
		obs: observed{Deployment: dep(1, progressing), InitialReplicas: 1, ScaledObject: &kedav1alpha1.ScaledObject{
			Status: kedav1alpha1.ScaledObjectStatus{Conditions: kedav1alpha1.Conditions{{Type: kedav1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "ScaledObjectCheckFailed", Message: "bad"}}},
		}},
		ready:      cond{corev1.ConditionUnknown, "Deploying", ""},
		active:     cond{corev1.ConditionUnknown, "ScaledObjectNotReady", "KEDA: ScaledObjectCheckFailed: bad"},
		wantCounts: [2]int32{0, 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			if tc.healthy {
				rev.Status.InitializeConditions()
				rev.Status.MarkContainerHealthyTrue()
			}
			if tc.failed {
				rev.Status.InitializeConditions()
				rev.Status.MarkContainerHealthyFalse("ExitCode5", `Container failed with: container "user-container" exited with code 5`)
				rev.Status.MarkResourcesAvailableFalse("ExitCode5", `Container failed with: container "user-container" exited with code 5`)
			}
			computeStatus(rev, tc.obs)
			check := func(typ apis.ConditionType, want cond) {
				t.Helper()
				c := rev.Status.GetCondition(typ)
				if c == nil || c.Status != want.status || c.Reason != want.reason || !contains(c.Message, want.msgIn) {
					t.Errorf("%s = %+v, want %+v", typ, c, want)
				}
				if c != nil && c.Status == corev1.ConditionFalse && (c.Reason == "" || c.Message == "") {
					t.Errorf("%s is False without reason and message: %+v", typ, c)
				}
			}
			check(v1.RevisionConditionReady, tc.ready)
			check(v1.RevisionConditionActive, tc.active)
			if rev.Status.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d, want 3", rev.Status.ObservedGeneration)
			}
			if tc.obs.Deployment != nil && (*rev.Status.ActualReplicas != tc.wantCounts[0] || *rev.Status.DesiredReplicas != tc.wantCounts[1]) {
				t.Errorf("actual/desired = %d/%d, want %v", *rev.Status.ActualReplicas, *rev.Status.DesiredReplicas, tc.wantCounts)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0))
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
