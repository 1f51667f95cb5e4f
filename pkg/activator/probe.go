package activator

import (
	"context"
	"io"
	"net/http"
	"time"

	"k8s.io/utils/clock"

	"csclr.dev/csclr/pkg/queue"
)

// Prober asks a new pod's queue sidecar, directly by IP, whether the user
// container is ready, so that held requests go as soon as the pod can serve
// rather than after the kubelet's next readiness period.
type Prober struct {
	Client   *http.Client // short timeout; no redirects followed
	Clock    clock.Clock
	Interval time.Duration // between attempts
}

// Ready probes once.
func (p *Prober) Ready(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return false
	}
	req.Header.Set(queue.ProbeHeader, queue.ProbeHeaderValue)
	resp, err := p.Client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// UntilReady probes every Interval until the pod answers 200 (true) or ctx
// ends (false).
func (p *Prober) UntilReady(ctx context.Context, addr string) bool {
	for {
		if p.Ready(ctx, addr) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.Clock.After(p.Interval):
		}
	}
}
