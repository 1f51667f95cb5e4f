package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// certManager keeps the certificate Secret valid, the serving certificate
// loaded, and the webhook configurations' caBundle current. Every replica
// runs one; they agree on one Secret because creation is create-if-absent and
// renewal an optimistic-concurrency update, so losers read the winner's.
type certManager struct {
	opts   Options
	policy certPolicy
	client client.Client // writes
	reader client.Reader // uncached reads
	log    logr.Logger

	current atomic.Pointer[tls.Certificate]
	loaded  chan struct{} // closed when the first certificate is loaded
	changed chan struct{} // the Secret changed (capacity 1)
}

func newCertManager(opts Options, c client.Client, reader client.Reader, log logr.Logger) *certManager {
	return &certManager{
		opts:    opts,
		policy:  opts.certPolicy(),
		client:  c,
		reader:  reader,
		log:     log,
		loaded:  make(chan struct{}),
		changed: make(chan struct{}, 1),
	}
}

// secretChanged asks for a prompt re-sync (the Secret's watch calls it).
func (m *certManager) secretChanged() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// getCertificate is tls.Config.GetCertificate: always the latest certificate.
func (m *certManager) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := m.current.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("the webhook serving certificate is not loaded yet")
}

// run syncs until ctx ends: on start, when the Secret changes, every
// RecheckInterval, and after failures with a capped backoff.
func (m *certManager) run(ctx context.Context) error {
	const minBackoff, maxBackoff = time.Second, time.Minute
	backoff := minBackoff
	for {
		wait := m.opts.RecheckInterval
		if err := m.sync(ctx); err != nil {
			m.log.Error(err, "webhook certificate sync failed; retrying", "after", backoff)
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		} else {
			backoff = minBackoff
		}
		timer := m.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-m.changed:
			timer.Stop()
		case <-timer.C():
		}
	}
}

// sync makes the Secret hold valid certificates, serves them, and points the
// webhook configurations at their CA.
func (m *certManager) sync(ctx context.Context) error {
	secret, err := m.ensureSecret(ctx)
	if err != nil {
		return err
	}
	cert, err := servingCert(secret.Data)
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	if prev := m.current.Swap(cert); prev == nil {
		close(m.loaded)
	}
	return patchCABundles(ctx, m.client, m.reader,
		m.opts.MutatingWebhookConfigurationName, m.opts.ValidatingWebhookConfigurationName, secret.Data[secretCAKey])
}

// ensureSecret returns the certificate Secret, creating or renewing it first
// if needed. Another replica may win the race to do either; then its Secret
// is the one returned.
func (m *certManager) ensureSecret(ctx context.Context) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: m.opts.Namespace, Name: m.opts.SecretName}
	now := m.opts.Clock.Now()
	secret := &corev1.Secret{}
	err := m.reader.Get(ctx, key, secret)
	switch {
	case apierrors.IsNotFound(err):
		data, err := issueCerts(nil, now, m.policy)
		if err != nil {
			return nil, fmt.Errorf("issuing webhook certificates for secret %s: %w", key, err)
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
				Labels: map[string]string{"app.kubernetes.io/part-of": "csclr", "app.kubernetes.io/component": "webhook"}},
			Type: corev1.SecretTypeOpaque,
			Data: data,
		}
		err = m.client.Create(ctx, secret)
		if apierrors.IsAlreadyExists(err) {
			return m.readSecret(ctx, key)
		}
		if err != nil {
			return nil, fmt.Errorf("creating webhook certificate secret %s: %w", key, err)
		}
		m.log.Info("created webhook certificate secret", "secret", key)
		return secret, nil
	case err != nil:
		return nil, fmt.Errorf("reading webhook certificate secret %s: %w", key, err)
	}

	problem := certProblem(secret.Data, now, m.policy)
	if problem == nil {
		return secret, nil
	}
	data, err := issueCerts(secret.Data, now, m.policy)
	if err != nil {
		return nil, fmt.Errorf("renewing webhook certificates in secret %s: %w", key, err)
	}
	secret.Data = data
	// The update carries the resourceVersion we read: if another replica
	// renewed first, it conflicts and we adopt theirs.
	err = m.client.Update(ctx, secret)
	if apierrors.IsConflict(err) {
		return m.readSecret(ctx, key)
	}
	if err != nil {
		return nil, fmt.Errorf("renewing webhook certificates in secret %s (%v): %w", key, problem, err)
	}
	m.log.Info("renewed webhook certificates", "secret", key, "reason", problem.Error())
	return secret, nil
}

func (m *certManager) readSecret(ctx context.Context, key client.ObjectKey) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	if err := m.reader.Get(ctx, key, secret); err != nil {
		return nil, fmt.Errorf("reading webhook certificate secret %s: %w", key, err)
	}
	return secret, nil
}
