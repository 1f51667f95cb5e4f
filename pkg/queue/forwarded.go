package queue

import (
	"net"
	"net/http"
	"strings"
)

var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto"}

// addForwarded is the chain step that records this hop in Forwarded (RFC
// 7239) and X-Forwarded-For, and sets X-Forwarded-Proto if no earlier hop
// did. It edits the inbound request's headers in place: the proxy clones
// them anyway, and nothing else reads them afterwards.
func addForwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setForwarded(r)
		next.ServeHTTP(w, r)
	})
}

func setForwarded(r *http.Request) {
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

// forwardedNode quotes IPv6 addresses as RFC 7239 section 6 requires.
func forwardedNode(ip string) string {
	if strings.Contains(ip, ":") {
		return `"[` + ip + `]"`
	}
	return ip
}
