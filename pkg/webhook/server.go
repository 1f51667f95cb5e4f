package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// NewHandler returns the webhook's HTTP handler: Knative defaulting at
// DefaultingPath, validation at ValidationPath and the config maps'
// validation at ConfigValidationPath, each taking and answering
// an admission.k8s.io/v1 AdmissionReview. withConfig as in Options.WithConfig
// (nil: Knative's built-in defaults).
func NewHandler(withConfig func(context.Context) context.Context, log logr.Logger) (http.Handler, error) {
	if withConfig == nil {
		withConfig = Options{}.withDefaults().WithConfig
	}
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(DefaultingPath, reviewHandler(&defaulter{decoder: dec, withConfig: withConfig}, log.WithName("defaulting")))
	mux.Handle(ValidationPath, reviewHandler(&validator{decoder: dec, withConfig: withConfig}, log.WithName("validation")))
	mux.Handle(ConfigValidationPath, reviewHandler(configValidator{}, log.WithName("config-validation")))
	return mux, nil
}

// reviewHandler wraps an admission handler in controller-runtime's
// AdmissionReview codec, which also recovers from panics in the handler.
func reviewHandler(h admission.Handler, log logr.Logger) http.Handler {
	wh := &admission.Webhook{Handler: h, LogConstructor: func(_ logr.Logger, req *admission.Request) logr.Logger {
		if req == nil {
			return log
		}
		return log.WithValues("kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "operation", req.Operation, "uid", req.UID)
	}}
	return wh.WithRecoverPanic(true)
}

// tlsServer serves handler over TLS with the certificate manager's current
// certificate (so a renewed Secret is served without a restart).
type tlsServer struct {
	addr    string
	handler http.Handler
	certs   *certManager
	log     logr.Logger
	drain   time.Duration // see Options.DrainPeriod
}

// run serves once the first certificate is loaded, until ctx ends.
func (s *tlsServer) run(ctx context.Context) error {
	select {
	case <-s.certs.loaded:
	case <-ctx.Done():
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("webhook: listening on %s: %w (is another process using the port?)", s.addr, err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          stdlog.New(debugWriter{s.log}, "", 0),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.certs.getCertificate,
		},
	}
	s.log.Info("serving admission webhook", "address", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-served:
		return fmt.Errorf("webhook: serving on %s: %w", s.addr, err)
	case <-ctx.Done():
		s.drainAndShutdown(srv, served)
		return nil
	}
}

// drainAndShutdown keeps serving for the drain period, then shuts down
// gracefully. The API server reaches the webhook through its Service, whose
// endpoints still list this pod for a moment after SIGTERM: a webhook that
// stopped at once refused (or broke) the admission requests sent to it
// meanwhile, and the webhooks' failurePolicy Fail turned them into failed
// kubectl applies. The manager stops this runnable before the reconcilers,
// so a leader keeps reconciling meanwhile and hands over its Lease after.
func (s *tlsServer) drainAndShutdown(srv *http.Server, served <-chan error) {
	if s.drain > 0 {
		s.log.Info("draining: serving on while the endpoints drop this pod", "period", s.drain.String())
		t := time.NewTimer(s.drain)
		defer t.Stop()
		select {
		case <-t.C:
		case <-served: // the server failed meanwhile: nothing to drain
			return
		}
	}
	// Shutdown ends HTTP/2 connections with a GOAWAY, after which the API
	// server sends its next requests on a new connection, to another pod.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
}

// debugWriter logs the HTTP server's own errors at debug level: they are
// mostly TLS handshakes refused by an apiserver whose caBundle is being
// updated, which the certificate manager already reports.
type debugWriter struct{ log logr.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.V(1).Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
