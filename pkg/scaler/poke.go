package scaler

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// PokePath is where every activator's admin port accepts
// "POST /poke?revision=<ns>/<name>": a cold request for the revision arrived
// at a peer. KEDA's stream for a revision is held by one activator replica
// (the one its gRPC connection reached), so a cold request arriving at
// another replica has to reach that one.
const PokePath = "/poke"

// PokeHandler serves PokePath for the scaler.
func PokeHandler(s *Scaler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		key := parseKey(r.URL.Query().Get("revision"))
		if key.Name == "" || key.Namespace == "" {
			http.Error(w, "query parameter revision=<namespace>/<name> is required", http.StatusBadRequest)
			return
		}
		s.ColdRequest(key)
		w.WriteHeader(http.StatusNoContent)
	})
}

// Signaller tells the local scaler and every peer activator about cold
// requests. One signal per revision per Every is sent to the peers (the
// requests held meanwhile show up in the gathered reports anyway); each
// signal is fire-and-forget, with at most Parallel peer calls in flight and
// the rest dropped, so a slow or dead peer never slows the data path.
type Signaller struct {
	Scaler   *Scaler
	Peers    func() []string // peer activator IPs; this one may be among them
	Self     string          // this activator's IP, skipped
	Port     int             // the peers' admin port
	Client   *http.Client    // with a short timeout
	Clock    clock.PassiveClock
	Every    time.Duration
	Parallel int

	mu   sync.Mutex
	last map[Key]time.Time
	sem  chan struct{}
}

// ColdRequest signals a cold request for rev: the local scaler at once, the
// peers asynchronously.
func (s *Signaller) ColdRequest(rev Key) {
	s.Scaler.ColdRequest(rev)
	now := s.Clock.Now()
	s.mu.Lock()
	if s.last == nil {
		s.last = map[Key]time.Time{}
		s.sem = make(chan struct{}, max(s.Parallel, 1))
	}
	if t, ok := s.last[rev]; ok && now.Sub(t) < s.Every {
		s.mu.Unlock()
		return
	}
	s.last[rev] = now
	for k, t := range s.last {
		if now.Sub(t) >= s.Every {
			delete(s.last, k) // keeps the map as small as the cold revisions
		}
	}
	s.mu.Unlock()

	target := url.Values{"revision": {rev.String()}}.Encode()
	for _, ip := range s.Peers() {
		if ip == s.Self {
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			continue // too many pokes in flight: drop, IsActive polling catches up
		}
		go func() {
			defer func() { <-s.sem }()
			u := "http://" + net.JoinHostPort(ip, strconv.Itoa(s.Port)) + PokePath + "?" + target
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, nil)
			if err != nil {
				return
			}
			if resp, err := s.Client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
}
