package revision

import (
	"testing"
	"time"

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

func podWith(cs ...corev1.ContainerStatus) corev1.Pod {
	return corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: cs}}
}

// waiting and restarted are a container's status while it waits for reason,
// and after it exited with code and message and was started again.
func waiting(name, reason, message string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Image: "example/nope:v1",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
}

func restarted(name string, code int32, message string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", Message: message}}}
}

func TestComputeStatus(t *testing.T) {
	created := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	progressing := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "x" has timed out progressing.`}
	for _, tc := range []struct {
		name       string
		healthy    bool   // ContainerHealthy was True before
		failed     bool   // ContainerHealthy was False (ExitCode5) before
		unavail    string // ResourcesAvailable was False for this reason before
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
		// Knative marks a waiting container only once the Deployment's
		// progress deadline has passed: the pull may still succeed.
		name:       "image pull failure before the progress deadline: deploying",
		obs:        observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(waiting("user-container", "ImagePullBackOff", "not found"))}},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "image pull failure after the progress deadline: the kubelet's reason",
		obs:        observed{Deployment: dep(1, deadline), InitialReplicas: 1, Pods: []corev1.Pod{podWith(waiting("user-container", "ImagePullBackOff", `Back-off pulling image "example/nope:v1" (100% sure)`))}},
		ready:      cond{corev1.ConditionFalse, "ImagePullBackOff", `Back-off pulling image "example/nope:v1" (100% sure)`},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "crashing container",
		obs:        observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(restarted("user-container", 5, ""))}},
		ready:      cond{corev1.ConditionFalse, "ExitCode5", `Container failed with: container "user-container" exited with code 5`},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "crashing container with a termination message",
		obs:        observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(restarted("user-container", 2, "no config"))}},
		ready:      cond{corev1.ConditionFalse, "ExitCode2", "Container failed with: no config"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "container that exits with code 0 and is restarted",
		obs:        observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(restarted("user-container", 0, ""))}},
		ready:      cond{corev1.ConditionFalse, "ExitCode0", "Container failed with: container exited with no error"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name: "container terminated with its pod: no failure",
		obs: observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(corev1.ContainerStatus{Name: "user-container",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, Reason: "Error"}}})}},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name: "queue-proxy restarts and waits: not the user's failure",
		obs: observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(
			corev1.ContainerStatus{Name: "user-container"}, restarted("queue-proxy", 1, "bad config"))}},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name: "queue-proxy's image missing after the deadline: the Deployment's reason",
		obs: observed{Deployment: dep(1, deadline), InitialReplicas: 1, Pods: []corev1.Pod{podWith(
			corev1.ContainerStatus{Name: "user-container"}, waiting("queue-proxy", "ImagePullBackOff", "not found"))}},
		ready:      cond{corev1.ConditionFalse, "ProgressDeadlineExceeded", "timed out"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "scaled to zero: the pods on their way out are not looked at",
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1, Pods: []corev1.Pod{podWith(restarted("user-container", 5, ""))}},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		// KEDA's cooldown is shorter than the progress deadline: a revision
		// whose pods never got ready may be at zero before it.
		name:       "never ready, scaled to zero before its progress deadline: deploying",
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1, Now: created.Add(599 * time.Second)},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "never ready, at zero past its progress deadline: initial scale never achieved",
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1, Now: created.Add(600 * time.Second)},
		ready:      cond{corev1.ConditionFalse, "ProgressDeadlineExceeded", "Initial scale was never achieved"},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "ran before, at zero past its progress deadline: Ready",
		healthy:    true,
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1, Now: created.Add(time.Hour)},
		ready:      cond{corev1.ConditionTrue, "", ""},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "initial scale zero, past its progress deadline: Ready",
		obs:        observed{Deployment: dep(0), InitialReplicas: 0, Now: created.Add(time.Hour)},
		ready:      cond{corev1.ConditionTrue, "", ""},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		name: "unschedulable",
		obs: observed{Deployment: dep(1, progressing), InitialReplicas: 1, Pods: []corev1.Pod{{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 Insufficient cpu."}}}}}},
		ready:      cond{corev1.ConditionFalse, "Unschedulable", "Insufficient cpu"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		// Knative: "Initial scale was never achieved".
		name:       "pods failed at the deadline, then scaled to zero: still failed",
		unavail:    "ImagePullBackOff",
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1},
		ready:      cond{corev1.ConditionFalse, "ImagePullBackOff", "it failed"},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
	}, {
		name:       "pods failed at the deadline, then woken up: deploying again",
		unavail:    "ImagePullBackOff",
		obs:        observed{Deployment: dep(1, progressing), InitialReplicas: 1},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionUnknown, "Activating", ""},
		wantCounts: [2]int32{0, 1},
	}, {
		name:       "a child refused before, at zero: the refusal is over",
		unavail:    "FailedCreate",
		obs:        observed{Deployment: dep(0, progressing), InitialReplicas: 1},
		ready:      cond{corev1.ConditionUnknown, "Deploying", "first pod"},
		active:     cond{corev1.ConditionFalse, "NoTraffic", ""},
		wantCounts: [2]int32{0, 0},
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
			rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Generation: 3, CreationTimestamp: metav1.NewTime(created)}}
			if tc.healthy {
				rev.Status.InitializeConditions()
				rev.Status.MarkContainerHealthyTrue()
			}
			if tc.failed {
				rev.Status.InitializeConditions()
				rev.Status.MarkContainerHealthyFalse("ExitCode5", `Container failed with: container "user-container" exited with code 5`)
				rev.Status.MarkResourcesAvailableFalse("ExitCode5", `Container failed with: container "user-container" exited with code 5`)
			}
			if tc.unavail != "" {
				rev.Status.InitializeConditions()
				rev.Status.MarkResourcesAvailableFalse(tc.unavail, "it failed")
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

// A revision waiting for its first ready pod is reconciled again just after
// its progress deadline, whatever else wakes it.
func TestUntilDeadline(t *testing.T) {
	created := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	waitingRev := func() *v1.Revision {
		rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}}
		rev.Status.InitializeConditions()
		return rev
	}
	withDeadline := dep(0)
	withDeadline.Spec.ProgressDeadlineSeconds = ptr.To[int32](20)
	healthy := waitingRev()
	healthy.Status.MarkResourcesAvailableTrue()
	for _, tc := range []struct {
		name    string
		rev     *v1.Revision
		dep     *appsv1.Deployment
		initial int32
		now     time.Time
		want    time.Duration
	}{
		{name: "waiting, default deadline", rev: waitingRev(), dep: dep(0), initial: 1, now: created.Add(90 * time.Second), want: 511 * time.Second},
		{name: "waiting, 20 s deadline", rev: waitingRev(), dep: withDeadline, initial: 1, now: created.Add(5 * time.Second), want: 16 * time.Second},
		{name: "past the deadline", rev: waitingRev(), dep: withDeadline, initial: 1, now: created.Add(time.Minute)},
		{name: "resources available", rev: healthy, dep: dep(0), initial: 1, now: created},
		{name: "initial scale zero", rev: waitingRev(), dep: dep(0), now: created},
		{name: "no Deployment yet", rev: waitingRev(), initial: 1, now: created},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := untilDeadline(tc.rev, tc.dep, tc.initial, tc.now); got != tc.want {
				t.Errorf("untilDeadline = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ a, b, want time.Duration }{{0, 0, 0}, {0, 3, 3}, {3, 0, 3}, {2, 3, 2}, {3, 2, 2}} {
		if got := earliest(tc.a, tc.b); got != tc.want {
			t.Errorf("earliest(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
