package queue

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// NewTransport returns the one transport to the user container, shared by
// all requests: HTTP/1.1 with keep-alives for HTTP/1 requests and
// prior-knowledge h2c for HTTP/2 ones (gRPC needs HTTP/2 end to end).
// Environment proxies are ignored: the container is on localhost.
func NewTransport() http.RoundTripper {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	h1 := &http.Transport{
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
	return protocolSwitch{h1: h1, h2c: h2c}
}

type protocolSwitch struct{ h1, h2c http.RoundTripper }

func (p protocolSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 {
		return p.h2c.RoundTrip(r)
	}
	return p.h1.RoundTrip(r)
}

// NewProxy forwards to the user container on 127.0.0.1:userPort, keeping the
// Host header and the forwarding headers set by addForwarded. Responses of
// unknown length and event streams are flushed as they arrive.
func NewProxy(userPort int, transport http.RoundTripper, log *slog.Logger) *httputil.ReverseProxy {
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(userPort))
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = target
			// Rewrite mode strips forwarding headers to stop spoofing;
			// addForwarded already built them from a trusted hop.
			for _, k := range forwardingHeaders {
				if v, ok := pr.In.Header[k]; ok {
					pr.Out.Header[k] = v
				}
			}
		},
		Transport:  transport,
		BufferPool: bufferPool{},
		ErrorLog:   slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				// The caller left or a timeout fired; nobody reads this.
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			log.Warn("proxying to the user container failed", "port", userPort, "path", r.URL.Path, "error", err)
			http.Error(w, "user container on port "+strconv.Itoa(userPort)+" did not answer: "+err.Error(), http.StatusBadGateway)
		},
	}
}

const copyBufferSize = 32 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

// bufferPool saves the proxy a 32 KiB allocation per response body. It pools
// array pointers so that Put does not allocate.
type bufferPool struct{}

func (bufferPool) Get() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		copyBuffers.Put((*[copyBufferSize]byte)(b))
	}
}
