package scaler

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	clocktesting "k8s.io/utils/clock/testing"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/stats"
)

// fakeSource plays a revision's pods and one activator as the gatherer sees
// them. The pods have been up for long (large cumulative counters), as
// after a failover of KEDA's connection to a fresh scaler replica.
type fakeSource struct {
	concSec map[string]float64 // cumulative concurrency-seconds per source
}

// round is one gathering round: ready pods, each at perPod average
// concurrency over the last second, and held requests in the activator.
func (f *fakeSource) round(ready int, perPod float64, held int64) observation {
	if f.concSec == nil {
		f.concSec = map[string]float64{}
	}
	report := func(key string, conc float64, inFlight int64) stats.Report {
		if _, ok := f.concSec[key]; !ok {
			f.concSec[key] = 1e5
		}
		f.concSec[key] += conc
		return stats.Report{StartUnix: 1, InFlight: inFlight, Requests: uint64(f.concSec[key]), ConcurrencySeconds: f.concSec[key]}
	}
	o := observation{readyPods: ready, pods: map[string]stats.Report{}, activators: map[string]stats.Report{}}
	for i := range ready {
		ip := fmt.Sprintf("10.0.0.%d", i+1)
		o.pods[ip] = report("pod/"+ip, perPod, int64(perPod))
	}
	o.activators["10.1.0.1"] = report("activator", float64(held), held)
	return o
}

// hpaWants is what KEDA's HPA would make of GetMetrics: ceil(value/target)
// on milli-quantities, as KEDA truncates them (see metricValue).
func hpaWants(t *testing.T, client pb.ExternalScalerClient, ref *pb.ScaledObjectRef) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	spec, err := client.GetMetricSpec(ctx, ref)
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	m, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: MetricConcurrency})
	if err != nil {
		return 0, err
	}
	v, target := int64(m.MetricValues[0].MetricValueFloat*1000), int64(spec.MetricSpecs[0].TargetSizeFloat*1000)
	return int(math.Ceil(float64(v) / float64(target))), nil
}

// TestPartialWindowAfterFailover: a scaler replica that starts gathering a
// revision whose pods already serve (KEDA's connection moved to it) never
// tells the HPA to go below the ready pods until its window spans a stable
// window, and from then on reports Knative's decision; a revision it saw
// from zero gets Knative's decision from the first round.
func TestPartialWindowAfterFailover(t *testing.T) {
	type step struct {
		rounds     int     // one-second gathering rounds
		ready      int     // ready pods
		perPod     float64 // each pod's average concurrency over each second
		held       int64   // requests the activator holds
		wantPods   int     // what the HPA wants after each round
		wantActive bool
	}
	tests := []struct {
		name         string
		panicThrPct  string
		steps        []step
		wantHeldLast bool
	}{{
		name: "busy revision: a dip while the window is partial does not shrink it; the full window does",
		steps: []step{
			{rounds: 1, ready: 4, perPod: 10, wantPods: 4, wantActive: true},
			// The KPA on 6 s of history would halve it (average 10 → 1 pod, at most ÷2 → 2).
			{rounds: 5, ready: 4, perPod: 1, wantPods: 4, wantActive: true},
			{rounds: 13, ready: 4, perPod: 6.25, wantPods: 4, wantActive: true},
			// 20 s seen = the stable window: (40 + 5×4 + 14×25) / 20 = 20.5 → 3.
			{rounds: 1, ready: 4, perPod: 6.25, wantPods: 3, wantActive: true},
		},
	}, {
		name: "load stopped just before the failover: held and active until a stable window without load is seen",
		steps: []step{
			{rounds: 19, ready: 2, perPod: 0, wantPods: 2, wantActive: true},
			{rounds: 1, ready: 2, perPod: 0, wantPods: 0, wantActive: false},
		},
	}, {
		name: "growth while the window is partial scales up at once",
		steps: []step{
			{rounds: 1, ready: 4, perPod: 10, wantPods: 4, wantActive: true},
			{rounds: 1, ready: 4, perPod: 30, wantPods: 8, wantActive: true},  // panic: (40+120)/2 over 4 pods ≥ 200 %
			{rounds: 1, ready: 4, perPod: 30, wantPods: 12, wantActive: true}, // panic window all at 120
		},
	}, {
		name:        "seen from zero: nothing is missing, Knative's decision from the first round",
		panicThrPct: "1000",
		steps: []step{
			{rounds: 1, ready: 0, held: 40, wantPods: 4, wantActive: true},
			// (40 + 4) / 2 = 22 → 3 < 4 ready: a partial window would hold 4.
			{rounds: 1, ready: 4, perPod: 1, wantPods: 3, wantActive: true},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
			s := New(clk)
			client := startGRPC(t, s)
			md := map[string]string{MetaTarget: "10", MetaStableWindow: "20s", MetaPanicWindowPct: "10"}
			if tc.panicThrPct != "" {
				md[MetaPanicThresholdPct] = tc.panicThrPct
			}
			ref := &pb.ScaledObjectRef{Namespace: "ns", Name: "busy-00001", ScalerMetadata: md}
			rev := Key{Namespace: "ns", Name: "busy-00001"}
			if _, err := client.IsActive(context.Background(), ref); err != nil { // KEDA's first word to this replica
				t.Fatalf("IsActive: %v", err)
			}
			var src fakeSource
			second := 0
			for i, st := range tc.steps {
				for range st.rounds {
					s.Observe(rev, src.round(st.ready, st.perPod, st.held))
					got, err := hpaWants(t, client, ref)
					if err != nil {
						t.Fatalf("step %d, second %d: GetMetrics: %v", i, second, err)
					}
					if got != st.wantPods {
						t.Errorf("step %d, second %d: the HPA would want %d pods, want %d", i, second, got, st.wantPods)
					}
					a, err := client.IsActive(context.Background(), ref)
					if err != nil || a.Result != st.wantActive {
						t.Errorf("step %d, second %d: IsActive = %v, %v; want %v", i, second, a.GetResult(), err, st.wantActive)
					}
					clk.Step(time.Second)
					second++
				}
			}
		})
	}
}

// TestGetMetricsWaitsForTheFirstRound: KEDA's first GetMetrics for a busy
// revision reaches a replica that has never gathered it. It must not answer
// from an empty window (0: the HPA would halve the revision) but after the
// gatherer's next round; with no round at all, an error (the HPA keeps the
// current scale), never a value.
func TestGetMetricsWaitsForTheFirstRound(t *testing.T) {
	ref := &pb.ScaledObjectRef{Namespace: "ns", Name: "busy-00001", ScalerMetadata: map[string]string{MetaTarget: "10"}}
	rev := Key{Namespace: "ns", Name: "busy-00001"}
	type result struct {
		pods int
		err  error
	}
	// ask starts KEDA's GetMetrics and returns once it is waiting for the
	// clock (or has answered, as it did before the fix).
	ask := func(t *testing.T, clk *clocktesting.FakeClock, client pb.ExternalScalerClient) <-chan result {
		out := make(chan result, 1)
		go func() {
			pods, err := hpaWants(t, client, ref)
			out <- result{pods, err}
		}()
		for deadline := time.Now().Add(5 * time.Second); !clk.HasWaiters(); {
			select {
			case r := <-out:
				t.Fatalf("GetMetrics answered (%d pods, %v) before this replica gathered the revision once; want it to wait for the first round", r.pods, r.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("GetMetrics neither answered nor waited")
			}
			time.Sleep(time.Millisecond)
		}
		return out
	}

	t.Run("answers after the first round", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
		s := New(clk)
		client := startGRPC(t, s)
		got := ask(t, clk, client)

		// The gatherer's next round: a ready pod with 40 requests in flight.
		var pod reportServer
		pod.set(stats.Report{Revision: "ns/busy-00001", StartUnix: 1, InFlight: 40, ConcurrencySeconds: 1e5})
		g := &Gatherer{Scaler: s, Targets: fakeTargets{pods: map[Key][]string{rev: {"127.0.0.1"}}},
			Client: &http.Client{Timeout: time.Second}, Clock: clk, Interval: time.Second, Parallel: 4,
			PodPort: pod.start(t, queue.StatsPath), OnError: func(err error) { t.Errorf("scrape: %v", err) }}
		g.Tick(context.Background())

		select {
		case r := <-got:
			if r.err != nil || r.pods != 4 {
				t.Errorf("GetMetrics after the first round: %d pods, %v; want 4 (40 in flight, target 10)", r.pods, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("GetMetrics still waiting after the first round")
		}
	})

	t.Run("no round in time: Unavailable", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
		client := startGRPC(t, New(clk))
		got := ask(t, clk, client)
		clk.Step(firstRoundWait)
		select {
		case r := <-got:
			if status.Code(r.err) != codes.Unavailable {
				t.Errorf("GetMetrics with no gathering round: %d pods, %v; want code Unavailable", r.pods, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("GetMetrics still waiting after firstRoundWait")
		}
	})
}

// TestColdStartActiveAtOnce: a new revision at zero that this replica first
// hears of through a cold request is active at once, with no gathering round
// and no waiting, and its first round's metric asks for pods.
func TestColdStartActiveAtOnce(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	s := New(clk)
	client := startGRPC(t, s)
	ref := &pb.ScaledObjectRef{Namespace: "ns", Name: "new-00001", ScalerMetadata: map[string]string{MetaTarget: "10"}}
	rev := Key{Namespace: "ns", Name: "new-00001"}

	s.ColdRequest(rev)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a, err := client.IsActive(ctx, ref); err != nil || !a.Result {
		t.Fatalf("IsActive right after a cold request = %v, %v; want true", a.GetResult(), err)
	}
	stream, err := client.StreamIsActive(ctx, ref)
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	if m, err := stream.Recv(); err != nil || !m.Result {
		t.Fatalf("stream's first message = %v, %v; want true", m.GetResult(), err)
	}

	var src fakeSource
	s.Observe(rev, src.round(0, 0, 3)) // no pod yet, 3 requests held
	if got, err := hpaWants(t, client, ref); err != nil || got != 1 {
		t.Errorf("GetMetrics after the first round = %d pods, %v; want 1", got, err)
	}
}
