package queue

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"csclr.dev/csclr/pkg/forward"
	"csclr.dev/csclr/pkg/h1"
)

// NewTransport returns the one transport to the user container, shared by
// all requests: HTTP/1.1 with keep-alives for HTTP/1 requests and
// prior-knowledge h2c for HTTP/2 ones (gRPC needs HTTP/2 end to end).
// Simple HTTP/1 requests are sent on the serving goroutine (package h1),
// the rest by net/http's Transport. Environment proxies are ignored: the
// container is on localhost.
func NewTransport() http.RoundTripper {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	std := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        1000,
		MaxIdleConnsPerHost: 1000, // one host: the container
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true, // pass bodies through as they are
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
	h2c := &http.Transport{
		DialContext:        dialer.DialContext,
		IdleConnTimeout:    60 * time.Second,
		DisableCompression: true,
		Protocols:          new(http.Protocols),
	}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	direct := h1.New(h1.Options{
		Dial: dialer.DialContext, Fallback: std, MaxIdlePerAddr: 1000,
		IdleTimeout: 60 * time.Second, BufferSize: 16 << 10,
	})
	return forward.ByProtocol(direct, h2c)
}

// NewProxy returns the proxy to the user container on 127.0.0.1:userPort.
// It keeps the caller's Host header.
func NewProxy(userPort int, transport http.RoundTripper, log *slog.Logger) http.Handler {
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(userPort))
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, context.Canceled) {
			// The caller left or a timeout fired; nobody reads this.
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		log.Warn("proxying to the user container failed", "target", target, "path", r.URL.Path, "error", err)
		http.Error(w, "user container at "+target+" did not answer: "+err.Error(), http.StatusBadGateway)
	}
	return forward.New(forward.Options{
		Target:    func(*http.Request) string { return target },
		Transport: transport,
		Error:     fail,
		Log:       log,
	})
}
