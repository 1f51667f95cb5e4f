package scaler

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/stats"
)

// ActivatorStatsPath is where an activator serves, on its metrics port, a
// JSON list of stats.Report: one per revision for the requests it holds
// while the revision has no ready pod.
const ActivatorStatsPath = "/stats/revisions"

// Targets tells the gatherer whom to scrape.
type Targets interface {
	// ReadyPodIPs returns the IPs of the revision's ready pods (the ready
	// endpoints of the EndpointSlices of its private Service).
	ReadyPodIPs(rev Key) []string
	// ActivatorIPs returns the IPs of the ready activator pods, this one
	// included.
	ActivatorIPs() []string
}

// Gatherer scrapes, once per Interval, every ready pod of every revision the
// scaler knows, and every activator, and feeds the scaler.
type Gatherer struct {
	Scaler   *Scaler
	Targets  Targets
	Client   *http.Client // with a timeout shorter than Interval
	Clock    clock.WithTicker
	Interval time.Duration
	// Parallel bounds the scrapes in flight at once.
	Parallel int
	// PodPort and ActivatorPort are the metrics ports to scrape; zero means
	// queue.MetricsPort.
	PodPort, ActivatorPort int
	// OnError is told about failed scrapes; they are otherwise skipped (the
	// pod keeps its baseline and is asked again next round).
	OnError func(error)
}

// Run gathers until ctx ends.
func (g *Gatherer) Run(ctx context.Context) {
	t := g.Clock.NewTicker(g.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			g.Tick(ctx)
		}
	}
}

// Tick runs one gathering round.
func (g *Gatherer) Tick(ctx context.Context) {
	revs := g.Scaler.Revisions()
	if len(revs) == 0 {
		return
	}
	sem := make(chan struct{}, max(g.Parallel, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex

	byActivator := map[string][]stats.Report{}
	for _, ip := range g.Targets.ActivatorIPs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var reps []stats.Report
			if err := g.get(ctx, g.url(ip, g.ActivatorPort, ActivatorStatsPath), &reps); err != nil {
				g.fail(fmt.Errorf("scraping activator %s: %w", ip, err))
				return
			}
			mu.Lock()
			byActivator[ip] = reps
			mu.Unlock()
		}()
	}

	obs := make(map[Key]*observation, len(revs))
	for _, rev := range revs {
		ips := g.Targets.ReadyPodIPs(rev)
		o := &observation{pods: map[string]stats.Report{}, readyPods: len(ips), activators: map[string]stats.Report{}}
		obs[rev] = o
		for _, ip := range ips {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				var rep stats.Report
				if err := g.get(ctx, g.url(ip, g.PodPort, queue.StatsPath), &rep); err != nil {
					g.fail(fmt.Errorf("scraping pod %s of revision %s: %w", ip, rev, err))
					return
				}
				mu.Lock()
				o.pods[ip] = rep
				mu.Unlock()
			}()
		}
	}
	wg.Wait()

	for ip, reps := range byActivator {
		for _, rep := range reps {
			if o := obs[parseKey(rep.Revision)]; o != nil {
				o.activators[ip] = rep
			}
		}
	}
	for rev, o := range obs {
		g.Scaler.Observe(rev, *o)
	}
}

func (g *Gatherer) url(ip string, port int, path string) string {
	if port == 0 {
		port = queue.MetricsPort
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(port)) + path
}

func (g *Gatherer) get(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := g.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

func (g *Gatherer) fail(err error) {
	if g.OnError != nil {
		g.OnError(err)
	}
}
