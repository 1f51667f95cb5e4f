package queue

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

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
	return protocolSwitch{h1: direct, h2c: h2c}
}

type protocolSwitch struct{ h1, h2c http.RoundTripper }

func (p protocolSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 {
		return p.h2c.RoundTrip(r)
	}
	return p.h1.RoundTrip(r)
}

// Proxy forwards to the user container on 127.0.0.1. It is a lighter
// ReverseProxy for the warm path: it reuses the inbound request's header map
// (the chain owns it) instead of cloning it, installs no client trace, and
// streams responses of unknown length with a flush per read. Upgrades
// (WebSocket) go through httputil.ReverseProxy, which handles the hijacked
// connection. The Host header and the headers of addForwarded are kept.
type Proxy struct {
	target  string // host:port
	rt      http.RoundTripper
	upgrade *httputil.ReverseProxy
	log     *slog.Logger
}

// NewProxy returns the proxy to 127.0.0.1:userPort.
func NewProxy(userPort int, transport http.RoundTripper, log *slog.Logger) *Proxy {
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(userPort))
	p := &Proxy{target: target, rt: transport, log: log}
	p.upgrade = &httputil.ReverseProxy{
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
		Transport:    transport,
		BufferPool:   bufferPool{},
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: p.fail,
	}
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && headerHasToken(r.Header, "Connection", "upgrade") {
		p.upgrade.ServeHTTP(w, r)
		return
	}
	out := new(http.Request)
	*out = *r // keeps the context, method, Host, body and trailers
	out.URL = &url.URL{Scheme: "http", Host: p.target, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.RequestURI = ""
	out.Close = false
	if r.ContentLength == 0 {
		out.Body = nil // lets the transport retry on a stale keep-alive connection
	} else if r.Body != nil {
		// The transport closes the body when it is done or fails; closing
		// the server's body early can hang on Expect: 100-continue.
		out.Body = noCloseBody{r.Body}
	}
	// gRPC servers need "TE: trailers" to know trailers will get through.
	wantsTrailers := headerValuesHaveToken(r.Header["Te"], "trailers")
	removeHopByHop(out.Header)
	if wantsTrailers {
		out.Header["Te"] = []string{"trailers"}
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // not Go's default
	}

	res, err := p.rt.RoundTrip(out)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	defer res.Body.Close()
	removeHopByHop(res.Header)
	h := w.Header()
	for k, vv := range res.Header {
		h[k] = vv
	}
	if _, ok := res.Header["Content-Type"]; !ok {
		h["Content-Type"] = nil // a transparent hop does not sniff one up
	}
	if len(res.Trailer) > 0 {
		names := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(res.StatusCode)

	if err := copyBody(w, res.Body, isStream(res)); err != nil {
		// Part of the response is out; all we can do is cut the connection.
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // fills res.Trailer
	for k, vv := range res.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
}

func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		// The caller left or a timeout fired; nobody reads this.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	p.log.Warn("proxying to the user container failed", "target", p.target, "path", r.URL.Path, "error", err)
	http.Error(w, "user container at "+p.target+" did not answer: "+err.Error(), http.StatusBadGateway)
}

// isStream: responses of unknown length and event streams are flushed as
// they arrive; others are flushed by net/http when its buffer fills or the
// handler returns.
func isStream(res *http.Response) bool {
	if res.ContentLength == -1 {
		return true
	}
	ct := res.Header["Content-Type"]
	if len(ct) == 0 || !strings.HasPrefix(ct[0], "text/event-stream") {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct[0])
	return mt == "text/event-stream"
}

func copyBody(w http.ResponseWriter, body io.Reader, flush bool) error {
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		n, rerr := body.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if rc != nil {
				if err := rc.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

type noCloseBody struct{ io.Reader }

func (noCloseBody) Close() error { return nil }

// Hop-by-hop headers (RFC 9110 section 7.6.1) concern one connection only.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				delete(h, textproto.CanonicalMIMEHeaderKey(name))
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

func headerHasToken(h http.Header, key, token string) bool {
	return headerValuesHaveToken(h[key], token)
}

func headerValuesHaveToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

const copyBufferSize = 32 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

// bufferPool lends the upgrade proxy the same buffers. It pools array
// pointers so that Put does not allocate.
type bufferPool struct{}

func (bufferPool) Get() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		copyBuffers.Put((*[copyBufferSize]byte)(b))
	}
}
