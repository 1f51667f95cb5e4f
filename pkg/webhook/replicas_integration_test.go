//go:build integration

package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
)

// TestReplicasShareTheSecretAndFollowItsReplacement runs a second replica
// beside the one from TestMain: both serve the certificate of the one Secret;
// when the Secret is deleted, one replica recreates it, both serve the new
// certificate without a restart, and the apiserver trusts it again.
func TestReplicasShareTheSecretAndFollowItsReplacement(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := env.NewManager()
	if err != nil {
		t.Fatal(err)
	}
	if err := SetupWithManager(mgr, Options{Host: "127.0.0.1", Port: port, ExtraHosts: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	testenv.RunManager(t, mgr)

	firstAddr := webhookURLHost(t)
	secondAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: DefaultNamespace, Name: DefaultSecretName}}
	bundle := stored(t, secret).Data[secretCAKey]

	sameCert := func(bundle []byte) func() bool {
		return func() bool {
			a, b := servedBy(firstAddr, bundle), servedBy(secondAddr, bundle)
			return a != nil && b != nil && bytes.Equal(a.Raw, b.Raw)
		}
	}
	eventually(t, "both replicas serve the Secret's certificate", sameCert(bundle))

	if err := env.Client.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	var newBundle []byte
	eventually(t, "a replica recreates the Secret with a new CA", func() bool {
		s := &corev1.Secret{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), s); err != nil {
			return false
		}
		newBundle = s.Data[secretCAKey]
		return !bytes.Equal(newBundle, bundle)
	})
	eventually(t, "both replicas serve the new certificate", sameCert(newBundle))
	eventually(t, "the webhook configurations trust the new CA", func() bool {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		return env.Client.Get(ctx, client.ObjectKey{Name: DefaultMutatingWebhookConfigurationName}, m) == nil &&
			env.Client.Get(ctx, client.ObjectKey{Name: DefaultValidatingWebhookConfigurationName}, v) == nil &&
			bytes.Equal(m.Webhooks[0].ClientConfig.CABundle, newBundle) &&
			bytes.Equal(v.Webhooks[0].ClientConfig.CABundle, newBundle)
	})
	if err := waitForWebhook(ctx, newNamespace(t)); err != nil {
		t.Fatal(err)
	}
}

// servedBy is the leaf certificate served at addr if it verifies against
// bundle for 127.0.0.1, else nil.
func servedBy(addr string, bundle []byte) *x509.Certificate {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return nil
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// webhookURLHost is the host:port the installed webhook configurations call.
func webhookURLHost(t *testing.T) string {
	t.Helper()
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: DefaultValidatingWebhookConfigurationName}, v); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(*v.Webhooks[0].ClientConfig.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after a minute waiting until %s", what)
}
