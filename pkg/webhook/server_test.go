package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	clienttesting "k8s.io/utils/clock/testing"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServerAnswersReviewsAndReloadsCertificates runs the TLS server with a
// certificate manager on a fake API: an AdmissionReview gets a patch, and a
// renewed certificate is served to new connections without a restart.
func TestServerAnswersReviewsAndReloadsCertificates(t *testing.T) {
	c := fakeClient(t, webhookConfigurations()...)
	clock := clienttesting.NewFakeClock(t0)
	opts := testOptions(clock)
	certs := newCertManager(opts, c, c, logr.Discard())
	if err := certs.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	handler, err := NewHandler(nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	srv := &tlsServer{addr: freeAddr(t), handler: handler, certs: certs, log: logr.Discard()}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- srv.run(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(getSecret(t, c).Data[secretCAKey])
	// The fake clock is years ahead of the wall clock, so verify at its time.
	tlsCfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Time: clock.Now}
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}}

	req := admissionRequest(t, admissionv1.Create, "alice", service("hello", nil, templateSpec("img")), nil)
	review := admissionv1.AdmissionReview{Request: &req.AdmissionRequest}
	review.APIVersion, review.Kind = "admission.k8s.io/v1", "AdmissionReview"
	var resp *http.Response
	for i := 0; ; i++ { // the server starts listening asynchronously
		resp, err = httpc.Post("https://"+srv.addr+DefaultingPath, "application/json", bytes.NewReader(mustJSON(t, review)))
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	var got admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Response == nil || !got.Response.Allowed || len(got.Response.Patch) == 0 || got.Response.UID != req.UID {
		t.Fatalf("response = %+v, want an allowed response with a patch for uid %s", got.Response, req.UID)
	}

	servedSerial := func() string {
		conn, err := tls.Dial("tcp", srv.addr, tlsCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := servedSerial()
	clock.Step(opts.CertValidity)
	if err := certs.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if servedSerial() == first {
		t.Error("the renewed certificate is not served")
	}
}

// TestServerDrainsBeforeShutdown: once the manager stops it, the server
// keeps answering for the drain period (the endpoints still send the API
// server here), then stops.
func TestServerDrainsBeforeShutdown(t *testing.T) {
	c := fakeClient(t, webhookConfigurations()...)
	clock := clienttesting.NewFakeClock(t0)
	certs := newCertManager(testOptions(clock), c, c, logr.Discard())
	if err := certs.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	const drain = 600 * time.Millisecond
	srv := &tlsServer{addr: freeAddr(t), handler: handler, certs: certs, log: logr.Discard(), drain: drain}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- srv.run(ctx) }()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(getSecret(t, c).Data[secretCAKey])
	tlsCfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Time: clock.Now}
	get := func() error {
		// A new connection each time, as after a GOAWAY.
		httpc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}}
		resp, err := httpc.Get("https://" + srv.addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for i := 0; get() != nil; i++ { // the server starts listening asynchronously
		if i == 50 {
			t.Fatal("the server never answered")
		}
		time.Sleep(100 * time.Millisecond)
	}

	cancel()
	stoppedAt := time.Now()
	for time.Since(stoppedAt) < drain/2 {
		if err := get(); err != nil {
			t.Fatalf("%s into the drain: %v", time.Since(stoppedAt).Round(time.Millisecond), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		if took := time.Since(stoppedAt); err != nil || took < drain {
			t.Errorf("run returned %v after %s, want nil after the %s drain", err, took, drain)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop after its drain")
	}
	if err := get(); err == nil {
		t.Error("the server still answers after the drain")
	}
}
