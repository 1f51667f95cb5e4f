//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerConcurrency 1 never lets two requests into the container at
// once (the app answers 500 "overlap" if they do), however many arrive.
func TestContainerConcurrencyOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-cc1")
	host := applyKsvc(t, ctx, ns, ksvcSpec{name: "single", image: testImage(t), concurrency: 1,
		env:         map[string]string{"FAIL_ON_OVERLAP": "1"},
		annotations: map[string]string{"autoscaling.knative.dev/max-scale": "3"}})

	c := newClient(t, ctx, host, time.Minute)
	const rounds, parallel = 3, 24
	statuses := map[int]int{}
	for round := 0; round < rounds; round++ {
		for status, n := range burst(ctx, c, parallel, "/?sleep=150ms") {
			statuses[status] += n
		}
	}
	if statuses[200] != rounds*parallel {
		t.Fatalf("statuses %v, want all %d 200 (500 means two requests overlapped in the container)", statuses, rounds*parallel)
	}
}

// burst sends n requests at once and counts the answers by status (-1 for
// a transport error).
func burst(ctx context.Context, c *client, n int, path string) map[int]int {
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.get(ctx, path)
			status := r.status
			if err != nil {
				status = -1
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

// timeoutSeconds bounds the wait for the first byte: late gives 504, on
// time gives 200.
func TestTimeoutSeconds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-timeout")
	host := applyKsvc(t, ctx, ns, ksvcSpec{name: "slow", image: testImage(t), timeout: 2})
	c := newClient(t, ctx, host, time.Minute)

	onTime := c.mustGet(t, ctx, "/?sleep=500ms", 200)
	late := c.mustGet(t, ctx, "/?sleep=5s", 504)
	if late.duration < 2*time.Second || late.duration > 4*time.Second {
		t.Errorf("504 after %s, want about timeoutSeconds (2 s)", late.duration)
	}
	t.Logf("on time: 200 in %s; late: 504 in %s", onTime.duration.Round(time.Millisecond), late.duration.Round(time.Millisecond))
}

// A revision whose pod takes longer than timeoutSeconds to start holds what
// the activators' bounded queues hold and turns the rest away at once with
// 503 and Retry-After; the held requests end with 504 at the bound. The
// activators' memory stays bounded: while a second wave with four times the
// overflow (still before the pod can start) is held, they run no more
// goroutines than during the first; what they hold does not grow with what
// they turn away.
func TestFullColdQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-fullqueue")
	host := applyKsvc(t, ctx, ns, ksvcSpec{name: "sluggish", image: testImage(t), timeout: 10,
		env: map[string]string{"STARTUP_DELAY": "90s"},
		annotations: map[string]string{
			"autoscaling.knative.dev/initial-scale": "0",
			"autoscaling.knative.dev/max-scale":     "1",
		}})

	activators := activatorPods(t, ctx)
	const depth = 1000 // the activators' --queue-depth
	held := len(activators) * depth
	before := activatorGauges(t, ctx, activators)
	var during []gauges
	c := newClient(t, ctx, host, time.Minute)
	start := time.Now()
	for i, overflow := range []int{600, 2400} {
		sent := held + overflow
		statuses, retryAfter, g := overload(t, ctx, c, sent, activators)
		during = append(during, g)
		t.Logf("wave %d: %d requests, statuses %v; activators while holding: %s (before the first wave: %s)",
			i+1, sent, statuses, g, before)
		if statuses[503] < overflow {
			t.Errorf("wave %d: %d × 503, want at least %d (the requests beyond %d activators × %d)", i+1, statuses[503], overflow, len(activators), depth)
		}
		if retryAfter != statuses[503] {
			t.Errorf("wave %d: %d of %d 503s carry Retry-After", i+1, retryAfter, statuses[503])
		}
		if statuses[503]+statuses[504] != sent {
			t.Errorf("wave %d: statuses %v: want only 503 (queue full) and 504 (held past timeoutSeconds)", i+1, statuses)
		}
	}
	if d := time.Since(start); d > 80*time.Second {
		t.Logf("the waves took %s: the pod may have started during the second", d.Round(time.Second))
	}
	// Each held request costs a goroutine or two and their buffers: a few
	// tens of KiB. A rejected one costs nothing that stays. (RSS only
	// shows the peak: the Go runtime returns memory to the OS lazily.)
	if grown := during[0].rss - before.rss; grown > 256<<20 {
		t.Errorf("activators grew by %d MiB while holding %d requests", grown>>20, held)
	}
	if more := during[1].goroutines - during[0].goroutines; more > 200 {
		t.Errorf("%d more goroutines held with four times the overflow: %s, then %s", more, during[0], during[1])
	}
}

// overload sends n requests at once and returns their statuses (-1: no
// answer), how many 503s carried Retry-After, and the activators' gauges
// once every request is held or turned away.
func overload(t *testing.T, ctx context.Context, c *client, n int, activators []string) (statuses map[int]int, retryAfter int, g gauges) {
	t.Helper()
	var mu sync.Mutex
	statuses = map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.get(ctx, "/")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			statuses[r.status]++
			if r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "" {
				retryAfter++
			}
		}()
	}
	time.Sleep(5 * time.Second) // all held, none timed out yet (timeoutSeconds 10)
	g = activatorGauges(t, ctx, activators)
	wg.Wait()
	return statuses, retryAfter, g
}

func activatorPods(t *testing.T, ctx context.Context) []string {
	t.Helper()
	pods, err := cluster.kube.CoreV1().Pods("csclr-system").List(ctx, metav1.ListOptions{LabelSelector: "app=csclr-activator"})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			ips = append(ips, p.Status.PodIP)
		}
	}
	if len(ips) == 0 {
		t.Fatal("no activator pod")
	}
	return ips
}

// gauges are the activators' memory and goroutines, summed.
type gauges struct{ rss, heapInuse, goroutines int64 }

func (g gauges) String() string {
	return fmt.Sprintf("RSS %d MiB, heap in use %d MiB, %d goroutines", g.rss>>20, g.heapInuse>>20, g.goroutines)
}

func activatorGauges(t *testing.T, ctx context.Context, ips []string) gauges {
	t.Helper()
	var g gauges
	for _, ip := range ips {
		for name, sum := range map[string]*int64{
			"process_resident_memory_bytes": &g.rss,
			"go_memstats_heap_inuse_bytes":  &g.heapInuse,
			"go_goroutines":                 &g.goroutines,
		} {
			v, err := scrapeGauge(ctx, "http://"+ip+":9090/metrics", name)
			if err != nil {
				t.Fatalf("activator %s metrics: %v", ip, err)
			}
			*sum += int64(v)
		}
	}
	return g
}

func scrapeGauge(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", url, name)
}
