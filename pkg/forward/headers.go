package forward

import (
	"net"
	"net/http"
	"net/textproto"
	"strings"
)

var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto"}

// RecordHop records the hop from r's peer in Forwarded (RFC 7239) and
// X-Forwarded-For, appending to what earlier hops wrote, and sets
// X-Forwarded-Proto if no earlier hop did. It edits r's headers in place:
// the proxy sends them on as they are.
func RecordHop(r *http.Request) {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	h := r.Header
	// One backing array for the three values saves two allocations a request.
	values := make([]string, 3)

	values[0] = ip
	if prior := h["X-Forwarded-For"]; len(prior) > 0 {
		values[0] = strings.Join(prior, ", ") + ", " + ip
	}
	h["X-Forwarded-For"] = values[0:1:1]

	if h.Get("X-Forwarded-Proto") == "" {
		values[1] = proto
		h["X-Forwarded-Proto"] = values[1:2:2]
	}

	values[2] = "for=" + forwardedNode(ip) + ";proto=" + proto
	if prior := h["Forwarded"]; len(prior) > 0 {
		values[2] = strings.Join(prior, ", ") + ", " + values[2]
	}
	h["Forwarded"] = values[2:3:3]
}

// Hop is the chain step that records this hop (RecordHop) and then calls
// next. It belongs before any step that may send the request twice.
func Hop(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RecordHop(r)
		next.ServeHTTP(w, r)
	})
}

// forwardedNode quotes IPv6 addresses as RFC 7239 section 6 requires.
func forwardedNode(ip string) string {
	if strings.Contains(ip, ":") {
		return `"[` + ip + `]"`
	}
	return ip
}

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
