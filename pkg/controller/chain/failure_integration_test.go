//go:build integration

package chain_test

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/internal/testenv"
)

// Images of kind.local are not resolved to digests (Knative's default
// registries-skipping-tag-resolving), so no registry is needed.
const (
	imageV1 = "kind.local/hello:v1"
	imageV2 = "kind.local/hello:v2"
)

// The Deployment controller's words for a rollout past its deadline.
const timedOutMessage = `ReplicaSet "hello-00001-deployment-5d8f9c7b4" has timed out progressing.`

// A pod whose user container runs but never passes its readiness probe
// keeps the Deployment from progressing until its deadline: the revision
// fails with the Deployment's reason, and the Configuration, the Route and
// the Service fail with it. A ready pod later brings all of them back.
func TestProgressDeadlineFailsTheChainThenRecovers(t *testing.T) {
	ns := newNamespace(t)
	createService(t, ns, "hello", imageV1)
	rev, dep := deploymentOf(t, ns, "hello-00001")
	setPod(t, rev, dep, "hello-00001-a", false, running(0))
	setDeploymentStatus(t, dep, unavailable(appsv1.DeploymentCondition{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: timedOutMessage,
	}))

	// Knative: PropagateDeploymentStatus fails ResourcesAvailable with the
	// Deployment's Progressing reason and message, and Ready with it.
	r := revision(ns, "hello-00001")
	c := waitCondition(t, r, v1.RevisionConditionResourcesAvailable, corev1.ConditionFalse, v1.ReasonProgressDeadlineExceeded)
	wantMessage(t, "revision", c, timedOutMessage)
	c = waitCondition(t, r, apis.ConditionReady, corev1.ConditionFalse, v1.ReasonProgressDeadlineExceeded)
	wantMessage(t, "revision", c, timedOutMessage)
	firstRevisionFailed(t, ns, timedOutMessage)

	// The pod passes its probe at last and the rollout completes.
	setPod(t, rev, dep, "hello-00001-a", true, running(0))
	setDeploymentStatus(t, dep, available())
	allReady(t, ns, "hello-00001", "hello-00001")
}

// A user container that exits and is restarted fails the revision with
// Knative's ExitCode<N> reason while no pod is ready, up through the
// Configuration, the Route and the Service; once the restarted container
// becomes ready (the kubelet still reports its last termination) all of them
// are Ready again.
func TestCrashingContainerFailsTheChainThenRecovers(t *testing.T) {
	ns := newNamespace(t)
	createService(t, ns, "hello", imageV1)
	rev, dep := deploymentOf(t, ns, "hello-00001")
	setPod(t, rev, dep, "hello-00001-a", false, crashing(2))
	setDeploymentStatus(t, dep, unavailable(progressing()))

	r := revision(ns, "hello-00001")
	c := waitCondition(t, r, v1.RevisionConditionContainerHealthy, corev1.ConditionFalse, "ExitCode1")
	wantMessage(t, "revision", c, crashMessage)
	c = waitCondition(t, r, apis.ConditionReady, corev1.ConditionFalse, "ExitCode1")
	wantMessage(t, "revision", c, crashMessage)
	firstRevisionFailed(t, ns, crashMessage)

	// The fourth start succeeds: the pod is ready, its last state still
	// the crash.
	recovered := crashing(3)
	recovered.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	setPod(t, rev, dep, "hello-00001-a", true, recovered)
	setDeploymentStatus(t, dep, available())
	allReady(t, ns, "hello-00001", "hello-00001")
	waitCondition(t, r, v1.RevisionConditionContainerHealthy, corev1.ConditionTrue, "")
}

// A new revision that fails while the first serves: the Configuration and
// the Service report the failure (RevisionFailed), latestReadyRevisionName
// stays on the first revision and the Route keeps all traffic on it, Ready.
func TestFailingSecondRevisionKeepsTheFirstServing(t *testing.T) {
	ns := newNamespace(t)
	createService(t, ns, "hello", imageV1)
	rev1, dep1 := deploymentOf(t, ns, "hello-00001")
	setPod(t, rev1, dep1, "hello-00001-a", true, running(0))
	setDeploymentStatus(t, dep1, available())
	allReady(t, ns, "hello-00001", "hello-00001")

	setImage(t, ns, "hello", imageV2)
	rev2, dep2 := deploymentOf(t, ns, "hello-00002")
	setPod(t, rev2, dep2, "hello-00002-a", false, crashing(2))
	setDeploymentStatus(t, dep2, unavailable(progressing()))

	c := waitCondition(t, revision(ns, "hello-00002"), apis.ConditionReady, corev1.ConditionFalse, "ExitCode1")
	wantMessage(t, "revision hello-00002", c, crashMessage)
	// Knative: MarkLatestCreatedFailed.
	failed := fmt.Sprintf("Revision %q failed with message: %s.", "hello-00002", crashMessage)
	cfg := configuration(ns, "hello")
	c = waitCondition(t, cfg, apis.ConditionReady, corev1.ConditionFalse, "RevisionFailed")
	wantMessage(t, "configuration", c, failed)
	latest(t, "configuration", cfg.Status.ConfigurationStatusFields, "hello-00002", "hello-00001")
	// Knative's event for it (the condition's reason is RevisionFailed).
	testenv.WaitEvent(t, k8s, cfg, testenv.WantEvent{
		Type: corev1.EventTypeWarning, Reason: "LatestCreatedFailed", Note: []string{`"hello-00002"`},
	}, 30*time.Second)

	// The Route is unaffected: the Configuration's latest ready revision
	// still resolves.
	rt := route(ns, "hello")
	waitCondition(t, rt, apis.ConditionReady, corev1.ConditionTrue, "")
	svc := service(ns, "hello")
	c = waitCondition(t, svc, v1.ServiceConditionConfigurationsReady, corev1.ConditionFalse, "RevisionFailed")
	wantMessage(t, "service", c, failed)
	waitCondition(t, svc, v1.ServiceConditionRoutesReady, corev1.ConditionTrue, "")
	c = waitCondition(t, svc, apis.ConditionReady, corev1.ConditionFalse, "RevisionFailed")
	wantMessage(t, "service", c, failed)
	waitCondition(t, revision(ns, "hello-00001"), apis.ConditionReady, corev1.ConditionTrue, "")

	// Once everything has settled, the first revision still serves.
	testenv.WaitSettled(t, k8s, 2*time.Second, 30*time.Second, cfg, rt, svc)
	latest(t, "configuration", cfg.Status.ConfigurationStatusFields, "hello-00002", "hello-00001")
	latest(t, "service", svc.Status.ConfigurationStatusFields, "hello-00002", "hello-00001")
	wantTraffic(t, "route", rt.Status.Traffic, "hello-00001")
	wantTraffic(t, "service", svc.Status.Traffic, "hello-00001")
	if c := svc.Status.GetCondition(apis.ConditionReady); c == nil || c.Reason != "RevisionFailed" {
		t.Errorf("after settling, service Ready = %+v, want False RevisionFailed", c)
	}
}

// firstRevisionFailed checks what Knative reports when the first revision
// of Service ns/hello fails with message msg: the Configuration names the
// revision and its failure (MarkLatestCreatedFailed); the Route has no ready
// revision to route to (MarkConfigurationFailed); the Service copies both,
// and its Ready takes the Route's, the last one its reconciler propagates.
func firstRevisionFailed(t *testing.T, ns, msg string) {
	t.Helper()
	failed := fmt.Sprintf("Revision %q failed with message: %s.", "hello-00001", msg)
	const missing = `Configuration "hello" does not have any ready Revision.`
	cfg := configuration(ns, "hello")
	c := waitCondition(t, cfg, apis.ConditionReady, corev1.ConditionFalse, "RevisionFailed")
	wantMessage(t, "configuration", c, failed)
	latest(t, "configuration", cfg.Status.ConfigurationStatusFields, "hello-00001", "")

	rt := route(ns, "hello")
	c = waitCondition(t, rt, v1.RouteConditionAllTrafficAssigned, corev1.ConditionFalse, "RevisionMissing")
	wantMessage(t, "route", c, missing)
	waitCondition(t, rt, apis.ConditionReady, corev1.ConditionFalse, "RevisionMissing")

	svc := service(ns, "hello")
	c = waitCondition(t, svc, v1.ServiceConditionConfigurationsReady, corev1.ConditionFalse, "RevisionFailed")
	wantMessage(t, "service", c, failed)
	c = waitCondition(t, svc, v1.ServiceConditionRoutesReady, corev1.ConditionFalse, "RevisionMissing")
	wantMessage(t, "service", c, missing)
	c = waitCondition(t, svc, apis.ConditionReady, corev1.ConditionFalse, "RevisionMissing")
	wantMessage(t, "service", c, missing)
	latest(t, "service", svc.Status.ConfigurationStatusFields, "hello-00001", "")
}

// allReady waits until the revision, Configuration, Route and Service
// ns/hello are Ready, latest created being created and latest ready ready,
// with all traffic on ready.
func allReady(t *testing.T, ns, created, ready string) {
	t.Helper()
	waitCondition(t, revision(ns, ready), apis.ConditionReady, corev1.ConditionTrue, "")
	cfg := configuration(ns, "hello")
	waitCondition(t, cfg, apis.ConditionReady, corev1.ConditionTrue, "")
	latest(t, "configuration", cfg.Status.ConfigurationStatusFields, created, ready)
	rt := route(ns, "hello")
	waitCondition(t, rt, apis.ConditionReady, corev1.ConditionTrue, "")
	wantTraffic(t, "route", rt.Status.Traffic, ready)
	svc := service(ns, "hello")
	waitCondition(t, svc, apis.ConditionReady, corev1.ConditionTrue, "")
	latest(t, "service", svc.Status.ConfigurationStatusFields, created, ready)
	wantTraffic(t, "service", svc.Status.Traffic, ready)
}

func latest(t *testing.T, what string, f v1.ConfigurationStatusFields, created, ready string) {
	t.Helper()
	if f.LatestCreatedRevisionName != created || f.LatestReadyRevisionName != ready {
		t.Errorf("%s latestCreated/latestReady = %q/%q, want %q/%q", what,
			f.LatestCreatedRevisionName, f.LatestReadyRevisionName, created, ready)
	}
}

func wantTraffic(t *testing.T, what string, got []v1.TrafficTarget, revision string) {
	t.Helper()
	if len(got) != 1 || got[0].RevisionName != revision || got[0].Percent == nil || *got[0].Percent != 100 {
		t.Errorf("%s traffic = %+v, want 100%% to %s", what, got, revision)
	}
}

// crashMessage is the revision's message for crashing(): Knative's
// RevisionContainerExitingMessage around csclr's words for a container
// that left no termination message (Knative's would be empty there).
const crashMessage = `Container failed with: container "user-container" exited with code 1 (Error)`

// crashing is a user container in CrashLoopBackOff after restarts: its last
// run exited with code 1 and no termination message.
func crashing(restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Image: imageV1, RestartCount: restarts, Started: ptr.To(false),
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff", Message: "back-off 20s restarting failed container",
		}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", StartedAt: metav1.Now(), FinishedAt: metav1.Now(),
		}},
	}
}

// running is a user container that has been running since its last restart.
func running(restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Image: imageV1, RestartCount: restarts, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
	}
}

// progressing is the Deployment's Progressing condition during a rollout.
func progressing() appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
		Reason: "ReplicaSetUpdated", Message: "ReplicaSet is progressing.",
	}
}

// unavailable is the status of a Deployment whose one replica is not ready.
func unavailable(progress appsv1.DeploymentCondition) appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{
		Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.",
		}, progress},
	}
}

// available is the status of a Deployment whose rollout completed.
func available() appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{
		Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
			Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.",
		}, {
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
			Reason: "NewReplicaSetAvailable", Message: "ReplicaSet has successfully progressed.",
		}},
	}
}
