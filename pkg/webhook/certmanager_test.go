package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func testOptions(clock *clienttesting.FakeClock) Options {
	return Options{
		ExtraHosts:      []string{"127.0.0.1"},
		CAValidity:      100 * 24 * time.Hour,
		CertValidity:    30 * 24 * time.Hour,
		RenewBefore:     7 * 24 * time.Hour,
		RecheckInterval: time.Minute,
		Clock:           clock,
	}.withDefaults()
}

func webhookConfigurations() []client.Object {
	return []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: DefaultMutatingWebhookConfigurationName},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: DefaultMutatingWebhookConfigurationName}},
		},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: DefaultValidatingWebhookConfigurationName},
			Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: DefaultValidatingWebhookConfigurationName}},
		},
	}
}

func fakeClient(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

func getSecret(t *testing.T, c client.Client) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: DefaultNamespace, Name: DefaultSecretName}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func caBundles(t *testing.T, c client.Client) (mutating, validating []byte) {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: DefaultMutatingWebhookConfigurationName}, m); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: DefaultValidatingWebhookConfigurationName}, v); err != nil {
		t.Fatal(err)
	}
	return m.Webhooks[0].ClientConfig.CABundle, v.Webhooks[0].ClientConfig.CABundle
}

func servedLeaf(t *testing.T, m *certManager) []byte {
	t.Helper()
	c, err := m.getCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Certificate[0]
}

func TestCertManagerCreatesSecretAndSetsCABundle(t *testing.T) {
	c := fakeClient(t, webhookConfigurations()...)
	m := newCertManager(testOptions(clienttesting.NewFakeClock(t0)), c, c, logr.Discard())
	if _, err := m.getCertificate(nil); err == nil {
		t.Error("a certificate is served before the first sync")
	}
	if err := m.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	secret := getSecret(t, c)
	if err := certProblem(secret.Data, t0, m.policy); err != nil {
		t.Errorf("created secret: %v", err)
	}
	mut, val := caBundles(t, c)
	if string(mut) != string(secret.Data[secretCAKey]) || string(val) != string(secret.Data[secretCAKey]) {
		t.Error("the webhook configurations do not trust the secret's CA")
	}
	select {
	case <-m.loaded:
	default:
		t.Error("loaded is not closed after a successful sync")
	}
	want, _ := servingCert(secret.Data)
	if string(servedLeaf(t, m)) != string(want.Certificate[0]) {
		t.Error("the served certificate is not the secret's")
	}
}

// staleOnce makes the first Get of the Secret miss, as when another
// replica creates it between our read and our create.
func staleOnce(c client.WithWatch) client.WithWatch {
	missed := false
	return interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok && !missed {
				missed = true
				return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
}

func TestReplicasAgreeOnOneSecret(t *testing.T) {
	c := fakeClient(t, webhookConfigurations()...)
	clock := clienttesting.NewFakeClock(t0)
	winner := newCertManager(testOptions(clock), c, c, logr.Discard())
	loser := newCertManager(testOptions(clock), c, staleOnce(c), logr.Discard())
	if err := winner.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := loser.sync(context.Background()); err != nil {
		t.Fatalf("the replica that lost the create race: %v", err)
	}
	if string(servedLeaf(t, winner)) != string(servedLeaf(t, loser)) {
		t.Error("the replicas serve different certificates")
	}
}

func TestCertManagerRenewsBeforeExpiry(t *testing.T) {
	c := fakeClient(t, webhookConfigurations()...)
	clock := clienttesting.NewFakeClock(t0)
	opts := testOptions(clock)
	m := newCertManager(opts, c, c, logr.Discard())
	if err := m.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := getSecret(t, c)
	firstLeaf := servedLeaf(t, m)

	clock.Step(opts.CertValidity - opts.RenewBefore - time.Hour)
	if err := m.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if string(servedLeaf(t, m)) != string(firstLeaf) {
		t.Error("renewed before the renewal window")
	}

	clock.Step(2 * time.Hour)
	if err := m.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := getSecret(t, c)
	if string(after.Data[secretCertKey]) == string(before.Data[secretCertKey]) {
		t.Fatal("the serving certificate was not renewed inside the renewal window")
	}
	if string(after.Data[secretCAKey]) != string(before.Data[secretCAKey]) {
		t.Error("renewal changed the CA")
	}
	if string(servedLeaf(t, m)) == string(firstLeaf) {
		t.Error("the renewed certificate is not served")
	}
}

func TestCertManagerAdoptsAConcurrentRenewal(t *testing.T) {
	c := fakeClient(t, webhookConfigurations()...)
	clock := clienttesting.NewFakeClock(t0)
	opts := testOptions(clock)
	first := newCertManager(opts, c, c, logr.Discard())
	if err := first.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Step(opts.CertValidity)
	// The second replica read the old Secret, then another replica renewed it.
	var renewedByOther []byte
	racing := interceptor.NewClient(c, interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if _, ok := obj.(*corev1.Secret); ok && renewedByOther == nil {
				if err := first.sync(ctx); err != nil {
					return err
				}
				renewedByOther = getSecret(t, c).Data[secretCertKey]
			}
			return c.Update(ctx, obj, opts...)
		},
	})
	second := newCertManager(opts, racing, c, logr.Discard())
	if err := second.sync(context.Background()); err != nil {
		t.Fatalf("the replica that lost the renewal race: %v", err)
	}
	if got := getSecret(t, c).Data[secretCertKey]; string(got) != string(renewedByOther) {
		t.Error("the losing replica overwrote the winner's renewal")
	}
	if string(servedLeaf(t, first)) != string(servedLeaf(t, second)) {
		t.Error("the replicas serve different certificates after the renewal race")
	}
}

func TestCertManagerServesEvenWithoutWebhookConfigurations(t *testing.T) {
	c := fakeClient(t)
	m := newCertManager(testOptions(clienttesting.NewFakeClock(t0)), c, c, logr.Discard())
	err := m.sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), `MutatingWebhookConfiguration "defaulting.webhook.csclr.dev" not found: apply config/core/500-webhooks.yaml`) {
		t.Errorf("sync error = %v, want one naming the missing configuration and the fix", err)
	}
	if _, err := m.getCertificate(nil); err != nil {
		t.Errorf("no certificate served: %v", err)
	}
}
