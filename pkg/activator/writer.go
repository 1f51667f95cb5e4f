package activator

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"time"

	"csclr.dev/csclr/pkg/gateway"
)

// exchange is what the chain learns about one request, shared by its
// handlers through the request context. It doubles as the response writer
// wrapper that records status and size, so one allocation serves both.
type exchange struct {
	http.ResponseWriter
	start      time.Time
	target     gateway.Target
	rev        *revState     // the revision's state, claimed by admit
	addr       string        // the pod's ip:port
	retryable  bool          // a dial failure may be retried on another pod
	dialFailed bool          // the pod could not be dialled; nothing was sent
	waited     bool          // held for a pod
	wait       time.Duration // how long
	status     int
	bytes      int64
	hijacked   bool
}

type exchangeKey struct{}

func contextWith(r *http.Request, x *exchange) context.Context {
	return context.WithValue(r.Context(), exchangeKey{}, x)
}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

func (x *exchange) WriteHeader(code int) {
	if x.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		x.status = code // not an informational 1xx: the final answer follows those
	}
	x.ResponseWriter.WriteHeader(code)
}

func (x *exchange) Write(b []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	n, err := x.ResponseWriter.Write(b)
	x.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController (used by the proxy to flush and to
// hijack for WebSockets and other upgrades) reach the real writer.
func (x *exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }

// Flush is for handlers that type-assert http.Flusher.
func (x *exchange) Flush() {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	_ = http.NewResponseController(x.ResponseWriter).Flush()
}

// Hijack records that the connection was taken over (an upgrade such as a
// WebSocket), for the request log.
func (x *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(x.ResponseWriter).Hijack()
	if err == nil {
		x.hijacked = true
	}
	return c, brw, err
}

// statusClientGone is logged for requests whose client left before an
// answer (nginx's convention); nothing is written.
const statusClientGone = 499

func (x *exchange) code() int {
	switch {
	case x.status != 0:
		return x.status
	case x.hijacked:
		return http.StatusSwitchingProtocols
	default:
		return http.StatusOK
	}
}
