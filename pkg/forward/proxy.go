// Package forward is the last step of csclr's two proxies (the activator and
// the queue sidecar): it sends a request on to one backend address and
// copies the answer back. It does what httputil.ReverseProxy does for a
// transparent hop, with less work per request: it reuses the inbound
// request's header map (the chain owns it) instead of cloning it, and
// streams responses of unknown length with a flush per read. Upgrades
// (WebSocket) go through httputil.ReverseProxy, which handles the hijacked
// connection. The Host header and the forwarding headers (RecordHop) are
// kept.
package forward

import (
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
)

// Options say where requests go and how failures are answered.
type Options struct {
	// Target is the backend's host:port for r.
	Target func(r *http.Request) string
	// Transport sends the requests (ByProtocol, to keep HTTP/2 end to end).
	Transport http.RoundTripper
	// Error answers a request whose round trip failed; nothing has been
	// written to w yet. Nil answers 502.
	Error func(w http.ResponseWriter, r *http.Request, err error)
	// Log receives the upgrade proxy's own errors; nil discards them.
	Log *slog.Logger
}

// Proxy is the forwarding http.Handler.
type Proxy struct {
	opts    Options
	upgrade *httputil.ReverseProxy
}

// New returns the proxy for opts.
func New(opts Options) *Proxy {
	if opts.Error == nil {
		opts.Error = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "the backend did not answer: "+err.Error(), http.StatusBadGateway)
		}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{opts: opts}
	p.upgrade = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = opts.Target(pr.In)
			// Rewrite mode strips forwarding headers to stop spoofing;
			// RecordHop already added this hop to them.
			for _, k := range forwardingHeaders {
				if v, ok := pr.In.Header[k]; ok {
					pr.Out.Header[k] = v
				}
			}
		},
		Transport:    opts.Transport,
		BufferPool:   bufferPool{},
		ErrorLog:     slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
		ErrorHandler: opts.Error,
	}
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && headerHasToken(r.Header, "Connection", "upgrade") {
		p.upgrade.ServeHTTP(w, r)
		return
	}
	res, err := p.opts.Transport.RoundTrip(p.outbound(w, r))
	if err != nil {
		p.opts.Error(w, r, err)
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

// outbound is r addressed to the backend, sharing r's header map.
// Informational responses (100 Continue, 103 Early Hints) are relayed to w
// as they come.
func (p *Proxy) outbound(w http.ResponseWriter, r *http.Request) *http.Request {
	// A shallow copy: it keeps the method, Host, body and trailers.
	out := r.WithContext(httptrace.WithClientTrace(r.Context(), relay1xx(w)))
	out.URL = &url.URL{Scheme: "http", Host: p.opts.Target(r), Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
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
	return out
}

// relay1xx passes informational responses on to the caller.
func relay1xx(w http.ResponseWriter) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
		h := w.Header()
		for k, vv := range header {
			h[k] = vv
		}
		w.WriteHeader(code)
		clear(h) // or they would go out again with the final response
		return nil
	}}
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

// ByProtocol returns a transport that sends requests that came in over
// cleartext HTTP/2 (gRPC, h2c clients) through h2c and the rest through
// h1, so that each keeps its protocol end to end. A nil h2c sends
// everything through h1.
func ByProtocol(h1, h2c http.RoundTripper) http.RoundTripper {
	if h2c == nil {
		return h1
	}
	return protocolSwitch{h1: h1, h2c: h2c}
}

type protocolSwitch struct{ h1, h2c http.RoundTripper }

func (p protocolSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 {
		return p.h2c.RoundTrip(r)
	}
	return p.h1.RoundTrip(r)
}
