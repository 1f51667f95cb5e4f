//go:build integration

package revision_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/autoscaling"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision/resources"
)

func get(t *testing.T, ns, name string, o client.Object) error {
	t.Helper()
	return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, o)
}

// condition returns "" when the revision's condition has the status (and
// reason, if given), else what it saw.
func condition(t *testing.T, rev *v1.Revision, typ apis.ConditionType, status corev1.ConditionStatus, reason string) string {
	got := &v1.Revision{}
	if err := get(t, rev.Namespace, rev.Name, got); err != nil {
		return err.Error()
	}
	c := got.Status.GetCondition(typ)
	if c == nil || c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Sprintf("%s = %+v, want %s %s", typ, c, status, reason)
	}
	if c.Status == corev1.ConditionFalse && (c.Reason == "" || c.Message == "") {
		return fmt.Sprintf("%s is False without reason or message: %+v", typ, c)
	}
	if got.Status.ObservedGeneration != got.Generation {
		return fmt.Sprintf("observedGeneration %d != generation %d", got.Status.ObservedGeneration, got.Generation)
	}
	return ""
}

func TestRevisionBecomesScaledDeployment(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	// One ready pod is enough capacity with target-burst-capacity 0.
	rev := newRevision(t, ns, "registry.example/hello:v1", map[string]string{
		autoscaling.TargetBurstCapacityKey: "0",
		autoscaling.MinScaleAnnotationKey:  "1",
		autoscaling.MaxScaleAnnotationKey:  "5",
	})
	activator := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "csclr-activator-x", Namespace: cfg.SystemNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: resources.ActivatorService}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.9.9.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if err := k8s.Create(ctx, activator); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, activator) })

	// Every child exists as built, the ScaledObject unpruned by KEDA's schema.
	dep := &appsv1.Deployment{}
	eventually(t, "Deployment", func() string {
		if err := get(t, ns, names.Deployment(rev.Name), dep); err != nil {
			return err.Error()
		}
		return ""
	})
	eventually(t, "digest in status", func() string {
		if err := get(t, ns, rev.Name, rev); err != nil {
			return err.Error()
		}
		if got := rev.Status.ContainerStatuses; len(got) != 1 || got[0].ImageDigest != "registry.example/hello@"+testDigest {
			return fmt.Sprintf("containerStatuses = %+v", got)
		}
		return ""
	})
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "registry.example/hello@"+testDigest {
		t.Errorf("user image = %q, want the digest", got)
	}
	if r := dep.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("Deployment replicas = %v, want the initial scale 1", r)
	}
	if len(dep.Spec.Template.Spec.Containers) != 2 || dep.Spec.Template.Spec.Containers[1].Name != "queue-proxy" {
		t.Errorf("containers = %+v, want the user container and queue-proxy", dep.Spec.Template.Spec.Containers)
	}
	if !metav1.IsControlledBy(dep, rev) {
		t.Errorf("Deployment owners = %+v", dep.OwnerReferences)
	}
	wantSO, err := resources.MakeScaledObject(rev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	so := &kedav1alpha1.ScaledObject{}
	eventually(t, "ScaledObject", func() string {
		if err := get(t, ns, names.ScaledObject(rev.Name), so); err != nil {
			return err.Error()
		}
		if !equality.Semantic.DeepEqual(wantSO.Spec, so.Spec) {
			return fmt.Sprintf("stored spec %+v differs from the built one %+v (pruned?)", so.Spec, wantSO.Spec)
		}
		return ""
	})
	if *so.Spec.MinReplicaCount != 1 || *so.Spec.MaxReplicaCount != 5 {
		t.Errorf("min/max = %d/%d, want 1/5", *so.Spec.MinReplicaCount, *so.Spec.MaxReplicaCount)
	}
	for _, n := range []string{names.PrivateService(rev.Name), names.PublicService(rev.Name)} {
		if err := get(t, ns, n, &corev1.Service{}); err != nil {
			t.Errorf("Service %s: %v", n, err)
		}
	}

	// No ready pod: the activator is the endpoint and the revision is deploying.
	slice := &discoveryv1.EndpointSlice{}
	endpoints := func(mode resources.Mode, ip string) func() string {
		return func() string {
			if err := get(t, ns, names.PublicEndpointSlice(rev.Name), slice); err != nil {
				return err.Error()
			}
			if got := slice.Labels[resources.ModeLabelKey]; got != string(mode) {
				return fmt.Sprintf("mode %q, want %q", got, mode)
			}
			if len(slice.Endpoints) != 1 || slice.Endpoints[0].Addresses[0] != ip {
				return fmt.Sprintf("endpoints %+v, want %s", slice.Endpoints, ip)
			}
			return ""
		}
	}
	eventually(t, "proxy endpoints", endpoints(resources.ModeProxy, "10.9.9.9"))
	if slice.Labels[discoveryv1.LabelServiceName] != rev.Name {
		t.Errorf("slice labels = %v", slice.Labels)
	}
	eventually(t, "deploying", func() string {
		return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionUnknown, "")
	})

	// A ready pod: serve mode, Ready and Active.
	addPod(t, rev, "hello-00001-a", "10.0.0.7", true)
	eventually(t, "serve endpoints", endpoints(resources.ModeServe, "10.0.0.7"))
	eventually(t, "ready", func() string { return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionTrue, "") })
	eventually(t, "active", func() string { return condition(t, rev, v1.RevisionConditionActive, corev1.ConditionTrue, "") })
	got := &v1.Revision{}
	_ = get(t, ns, rev.Name, got)
	if a, d := got.Status.ActualReplicas, got.Status.DesiredReplicas; a == nil || *a != 1 || d == nil || *d != 1 {
		t.Errorf("actual/desired = %v/%v, want 1/1", a, d)
	}

	// KEDA scales to zero: Ready stays, Active goes NoTraffic, the activator returns.
	if err := k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001-a", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	_ = get(t, ns, dep.Name, dep)
	dep.Spec.Replicas = ptr.To[int32](0)
	if err := k8s.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "back to proxy", endpoints(resources.ModeProxy, "10.9.9.9"))
	eventually(t, "no traffic", func() string {
		return condition(t, rev, v1.RevisionConditionActive, corev1.ConditionFalse, "NoTraffic")
	})
	eventually(t, "still ready", func() string { return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionTrue, "") })
	_ = get(t, ns, dep.Name, dep)
	if *dep.Spec.Replicas != 0 {
		t.Errorf("the reconciler overwrote KEDA's replicas: %d", *dep.Spec.Replicas)
	}
}

func TestRevisionFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("unresolvable image", func(t *testing.T) {
		rev := newRevision(t, newNamespace(t), "other.example/nope:v1", nil)
		eventually(t, "ContainerMissing", func() string {
			return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionFalse, v1.ReasonContainerMissing)
		})
	})
	// timeOut makes the revision's Deployment give up progressing, as the
	// Deployment controller does after progressDeadlineSeconds.
	timeOut := func(t *testing.T, rev *v1.Revision) {
		t.Helper()
		dep := &appsv1.Deployment{}
		waitExists(t, rev.Namespace, names.Deployment(rev.Name), dep)
		dep.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet has timed out progressing.",
		}}
		if err := k8s.Status().Update(ctx, dep); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("progress deadline exceeded", func(t *testing.T) {
		rev := newRevision(t, newNamespace(t), "kind.local/hello:v1", nil)
		timeOut(t, rev)
		eventually(t, "ProgressDeadlineExceeded", func() string {
			return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionFalse, "ProgressDeadlineExceeded")
		})
	})
	t.Run("image pull back-off and crash loop", func(t *testing.T) {
		ns := newNamespace(t)
		rev := newRevision(t, ns, "kind.local/hello:v1", nil)
		eventually(t, "revision UID", func() string { return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionUnknown, "") })
		_ = get(t, ns, rev.Name, rev)
		addPod(t, rev, "hello-00001-pull", "10.0.0.8", false, corev1.ContainerStatus{
			Name: "user-container", Image: "kind.local/hello:v1",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}},
		})
		// As in Knative, a waiting container fails the revision only once
		// the Deployment's progress deadline has passed.
		time.Sleep(time.Second)
		if msg := condition(t, rev, v1.RevisionConditionReady, corev1.ConditionUnknown, v1.ReasonDeploying); msg != "" {
			t.Errorf("before the progress deadline: %s", msg)
		}
		timeOut(t, rev)
		eventually(t, "ErrImagePull from the pod", func() string {
			return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionFalse, "ErrImagePull")
		})

		ns = newNamespace(t)
		rev = newRevision(t, ns, "kind.local/hello:v1", nil)
		eventually(t, "revision UID", func() string { return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionUnknown, "") })
		_ = get(t, ns, rev.Name, rev)
		addPod(t, rev, "hello-00001-crash", "10.0.0.9", false, corev1.ContainerStatus{
			Name:                 "user-container",
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}},
		})
		eventually(t, "ExitCode3", func() string {
			return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionFalse, "ExitCode3")
		})
	})
}
