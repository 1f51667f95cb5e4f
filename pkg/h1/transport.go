// Package h1 is an HTTP/1.1 client transport for one-hop proxies that sends
// a request and reads its response on the caller's goroutine.
//
// net/http's Transport gives every connection a reader and a writer
// goroutine and hands each request to them over channels. On a proxy that
// is not saturated every hand-off wakes a sleeping goroutine, often a
// sleeping thread, and on these VMs a thread's wake-up and a system call
// cost more than the proxying itself. This transport keeps idle
// connections in a pool and does the write and the read itself. It takes
// only simple requests (see Direct); the rest go to a fallback, a net/http
// Transport. Requests are written with http.Request.Write and responses read
// with http.ReadResponse, so the framing is net/http's.
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// MaxHeaderBytes bounds a response's header, its 1xx responses' included,
// as net/http's Transport does by default: a pod must not be able to make
// the activator, which all revisions share, buffer without end.
const MaxHeaderBytes = 10 << 20

// MaxDirectBody is the largest request body (of known length) the
// transport writes itself; it fits in a loopback or pod network socket's
// buffers, so the write does not stall on a peer that answers before
// reading it.
const MaxDirectBody = 64 << 10

// Options configure New.
type Options struct {
	// Dial opens connections (net.Dialer.DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Fallback takes the requests this transport does not (see Direct).
	Fallback http.RoundTripper
	// MaxIdlePerAddr bounds the idle connections kept per address
	// (default 100).
	MaxIdlePerAddr int
	// IdleTimeout closes connections idle for longer (0: kept until the
	// peer closes them or CloseIdleConnections).
	IdleTimeout time.Duration
	// BufferSize of each connection's reader and writer (default 4 KiB).
	BufferSize int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Transport is an http.RoundTripper; make one with New.
type Transport struct {
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
	fallback   http.RoundTripper
	bufferSize int
	idle       *idlePool
}

// New returns a transport with o.
func New(o Options) *Transport {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 4 << 10
	}
	return &Transport{
		dial: o.Dial, fallback: o.Fallback, bufferSize: o.BufferSize,
		idle: newIdlePool(o.MaxIdlePerAddr, o.IdleTimeout, o.Now),
	}
}

// Direct reports whether the transport sends r itself: plain http, HTTP/1,
// a valid method, no upgrade, no "Expect: 100-continue", and no body or a
// small one of known length.
func Direct(r *http.Request) bool {
	if r.URL.Scheme != "http" || r.ProtoMajor > 1 || r.Header["Expect"] != nil || r.Header["Upgrade"] != nil {
		return false
	}
	if r.Method != "" && !httpguts.ValidHeaderFieldName(r.Method) {
		return false // a method must be a token; net/http refuses the request
	}
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		return true
	case len(r.TransferEncoding) > 0:
		return false
	default:
		return r.ContentLength > 0 && r.ContentLength <= MaxDirectBody
	}
}

// RoundTrip sends r and returns the response; its body must be read to the
// end or closed, which returns the connection to the pool or closes it.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !Direct(r) {
		return t.fallback.RoundTrip(r)
	}
	ctx := r.Context()
	if err := ctx.Err(); err != nil {
		closeBody(r)
		return nil, err
	}
	addr := r.URL.Host
	replay := replayable(r)
	for {
		c := t.idle.get(addr)
		reused := c != nil
		if c == nil {
			var err error
			if c, err = t.connect(ctx, addr); err != nil {
				closeBody(r)
				return nil, err
			}
		}
		res, err := c.roundTrip(ctx, r)
		if err == nil {
			return res, nil
		}
		if reused && replay && errors.Is(err, errNoResponse) {
			continue // the peer closed the idle connection as we sent on it
		}
		closeBody(r)
		return nil, err
	}
}

// CloseIdleConnections closes the pooled connections (and the fallback's).
func (t *Transport) CloseIdleConnections() {
	t.idle.closeAll()
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func (t *Transport) connect(ctx context.Context, addr string) (*conn, error) {
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, addr: addr, idle: t.idle, bw: bufio.NewWriterSize(nc, t.bufferSize)}
	c.header = limitedReader{r: nc, n: math.MaxInt64}
	c.br = bufio.NewReaderSize(&c.header, t.bufferSize)
	return c, nil
}

// replayable: sending r twice does no harm (net/http's rule, for requests
// without a body).
func replayable(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody {
		return false
	}
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

var (
	// errNoResponse: the connection ended before any byte of a response.
	errNoResponse     = errors.New("h1: connection closed before the response started")
	errHeaderTooLarge = fmt.Errorf("h1: response header larger than %d bytes", MaxHeaderBytes)
)

// conn is one connection, used by one request at a time.
type conn struct {
	net.Conn
	addr      string
	idle      *idlePool
	br        *bufio.Reader
	bw        *bufio.Writer
	header    limitedReader // under br: bounds reading a response's header
	idleSince time.Time
}

// limitedReader fails reads once n bytes have been read.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (c *conn) roundTrip(ctx context.Context, r *http.Request) (*http.Response, error) {
	// A cancelled request unblocks whatever the connection waits on; the
	// connection is closed then, never reused.
	stop := context.AfterFunc(ctx, func() { c.Conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.Conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("h1: %w (%v)", ctxErr, err)
		}
		return nil, err
	}
	out, sent := r, (*trackedBody)(nil)
	if r.Body != nil && r.Body != http.NoBody {
		sent = &trackedBody{ReadCloser: r.Body}
		out = new(http.Request)
		*out = *r
		out.Body = sent
	}
	writeErr := out.Write(c.bw)
	if writeErr == nil {
		writeErr = c.bw.Flush()
	}
	var netErr *net.OpError
	if writeErr != nil && (ctx.Err() != nil || !errors.As(writeErr, &netErr) || sent != nil && sent.err != nil) {
		return fail(writeErr) // cancelled, an invalid request, or its body failed
	}
	// A write that failed on the connection means the peer closed it. It
	// may have answered first (a 413 before reading the whole body), and a
	// closed peer does not block the read.
	res, err := c.readResponse(r)
	if err != nil {
		if writeErr != nil {
			if errors.Is(err, errNoResponse) {
				err = errors.Join(errNoResponse, writeErr)
			} else {
				err = writeErr
			}
		}
		return fail(err)
	}
	// After a 101 the connection speaks another protocol, and after a
	// failed write its state is unknown.
	reusable := writeErr == nil && !res.Close && !r.Close && res.StatusCode != http.StatusSwitchingProtocols
	res.Body = &body{ReadCloser: res.Body, c: c, stop: stop, reusable: reusable}
	return res, nil
}

func (c *conn) readResponse(r *http.Request) (*http.Response, error) {
	c.header.n = MaxHeaderBytes
	defer func() { c.header.n = math.MaxInt64 }()
	return readFinal(c.br, r)
}

// trackedBody remembers whether reading the request body failed, which is
// not the connection's fault.
type trackedBody struct {
	io.ReadCloser
	err error
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// readFinal reads past informational (1xx) responses to the final one,
// passing them to the request's trace (httputil.ReverseProxy relays them
// to its client that way).
func readFinal(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
			return nil, errNoResponse
		}
		return nil, err
	}
	for {
		res, err := http.ReadResponse(br, r)
		if err != nil {
			return nil, err
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			return res, nil
		}
		if trace := httptrace.ContextClientTrace(r.Context()); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// body returns the connection to the pool once the response has been read
// to its end, and closes it if the reader gives up before.
type body struct {
	io.ReadCloser
	c        *conn
	stop     func() bool
	reusable bool
	done     atomic.Bool // Close may come from another goroutine than Read
}

func (b *body) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

// Close after EOF is free; before it, the rest of the body is not read
// (it may never end) and the connection is closed.
func (b *body) Close() error {
	b.finish(b.ReadCloser == http.NoBody)
	return nil
}

func (b *body) finish(atEOF bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	if !b.stop() || !atEOF || !b.reusable || b.c.br.Buffered() > 0 {
		// Cancelled, cut short, "Connection: close", or the peer sent more
		// than the response: the connection's state is unknown.
		b.c.Conn.Close()
		return
	}
	b.c.idle.put(b.c)
}
