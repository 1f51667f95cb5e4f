package queue

import (
	"net/http"

	"csclr.dev/csclr/pkg/forward"
)

// addForwarded is the chain step that records this hop in Forwarded and
// X-Forwarded-For (forward.RecordHop).
func addForwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forward.RecordHop(r)
		next.ServeHTTP(w, r)
	})
}
