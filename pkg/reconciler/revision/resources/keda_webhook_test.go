package resources

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/autoscaling"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// webhookManager is the part of a controller-runtime manager that KEDA's
// ScaledObject webhook setup uses, backed by a fake client: enough to run
// KEDA's own admission checks (validateWorkload, verifyCPUMemoryScalers
// among them) without a cluster. Any other method panics (nil embedded
// interface), which would show KEDA started to need more.
type webhookManager struct {
	ctrl.Manager
	scheme  *runtime.Scheme
	builder *fake.ClientBuilder
	client  client.Client
	server  webhook.Server
}

func (m *webhookManager) GetScheme() *runtime.Scheme                   { return m.scheme }
func (m *webhookManager) GetConfig() *rest.Config                      { return &rest.Config{} }
func (m *webhookManager) GetWebhookServer() webhook.Server             { return m.server }
func (m *webhookManager) GetEventRecorder(string) events.EventRecorder { return nil }
func (m *webhookManager) GetFieldIndexer() client.FieldIndexer         { return m }
func (m *webhookManager) GetRESTMapper() meta.RESTMapper {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(appsv1.SchemeGroupVersion.WithKind("Deployment"), meta.RESTScopeNamespace)
	return mapper
}

// IndexField registers KEDA's field indexes on the fake client, which takes
// them only before it is built.
func (m *webhookManager) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	m.builder.WithIndex(obj, field, fn)
	return nil
}

func (m *webhookManager) GetClient() client.Client {
	if m.client == nil {
		m.client = m.builder.Build()
	}
	return m.client
}

var quietKEDALog sync.Once

// kedaAdmits runs KEDA's admission of a ScaledObject's creation in a
// namespace that holds the given objects (and no LimitRange, unless given).
// KEDA keeps its client in package variables: callers must not run in
// parallel.
func kedaAdmits(t *testing.T, so *kedav1alpha1.ScaledObject, objs ...client.Object) error {
	t.Helper()
	quietKEDALog.Do(func() { logf.SetLogger(logr.Discard()) })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := kedav1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr := &webhookManager{
		scheme:  scheme,
		builder: fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...),
		server:  webhook.NewServer(webhook.Options{}),
	}
	if err := (&kedav1alpha1.ScaledObject{}).SetupWebhookWithManager(mgr, false); err != nil {
		t.Fatalf("setting up KEDA's webhook: %v", err)
	}
	_, err := so.ValidateCreate(ptr.To(false))
	return err
}

// TestKEDAWebhookResourceRequests runs KEDA's own webhook on the
// ScaledObject and Deployment of HPA-class revisions with the stock
// config-deployment (the queue requests 25m cpu and no memory).
func TestKEDAWebhookResourceRequests(t *testing.T) {
	withRequests := func(rr corev1.ResourceList) func(*v1.Revision) {
		return func(r *v1.Revision) { r.Spec.Containers[0].Resources.Requests = rr }
	}
	memory := withRequests(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")})
	cpu := withRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")})
	const kedaMemoryRefusal = "the scaledobject has a memory trigger but the container user-container doesn't have the memory request defined"
	for _, tc := range []struct {
		name    string
		rev     *v1.Revision
		wantErr string // "" = admitted
	}{
		{"memory, user requests memory: the queue's default request lets it in",
			hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200", memory), ""},
		{"memory, user requests no memory: still refused, for the user container",
			hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200", cpu), kedaMemoryRefusal},
		{"cpu, user requests cpu", hpaRev(autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "70", cpu), ""},
		{"memory without target is a cpu trigger", hpaRev(autoscaling.MetricAnnotationKey, "memory", cpu), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			so, err := MakeScaledObject(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			dep, err := MakeDeployment(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = kedaAdmits(t, so, dep)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("KEDA refuses it: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("KEDA's answer = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestKEDAWebhookHarness: the harness sees what KEDA's webhook needs from
// the cluster, so an admission above is not an accident of an empty fake.
func TestKEDAWebhookHarness(t *testing.T) {
	rev := hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200")
	so, err := MakeScaledObject(rev, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := kedaAdmits(t, so); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("without the Deployment: %v, want KEDA's not-found", err)
	}
	dep := &appsv1.Deployment{}
	dep.Namespace, dep.Name = so.Namespace, so.Spec.ScaleTargetRef.Name
	dep.Spec.Template.Spec.Containers = []corev1.Container{{Name: "user-container"}}
	limits := &corev1.LimitRange{}
	limits.Namespace, limits.Name = so.Namespace, "defaults"
	limits.Spec.Limits = []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		DefaultRequest: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}
	if err := kedaAdmits(t, so, dep); err == nil {
		t.Error("a container without a memory request was admitted")
	}
	if err := kedaAdmits(t, so, dep, limits); err != nil {
		t.Errorf("with a LimitRange default: %v", err)
	}
}
