package datapath

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCPUPer1000(t *testing.T) {
	// 0.5 s of CPU over 5 s while serving 5000 requests (1000 rps): 0.1 vCPU.
	if got := CPUPer1000(500*time.Millisecond, 5*time.Second, 5000); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("CPUPer1000 = %v, want 0.1", got)
	}
	if !math.IsNaN(CPUPer1000(time.Second, time.Second, 0)) || !math.IsNaN(CPUPer1000(time.Second, 0, 10)) {
		t.Error("no requests or no time: want NaN")
	}
}

// round builds a path's figures: rps in the closed loop, p50/p99 at the
// fixed rate, and CPU such that the fixed phase costs cpu vCPU per 1000 rps.
func round(rps float64, p50, p99 time.Duration, cpu float64) Round {
	sec := time.Second
	return Round{
		Closed:    Closed{OK: int(rps), Elapsed: sec},
		ClosedCPU: time.Duration(cpu * rps / 1000 * float64(sec)),
		Fixed:     Fixed{Latencies: make([]time.Duration, 1000), Elapsed: sec},
		FixedCPU:  time.Duration(cpu * float64(sec)),
		P50:       p50, P99: p99,
	}
}

func TestResultWrite(t *testing.T) {
	us := time.Microsecond
	r := Result{
		Options:    Options{Rounds: 2, Connections: 16, Rate: 1000, Duration: time.Second},
		LoadBefore: "0.10 0.20 0.30", LoadAfter: "0.20 0.20 0.30",
		Paths: []PathResult{
			{Name: Direct, Rounds: []Round{round(10000, 40*us, 100*us, 0), round(12000, 40*us, 120*us, 0)}},
			{Name: Bare, Proxy: true, Rounds: []Round{round(5000, 120*us, 300*us, 0.2), round(5000, 140*us, 320*us, 0.2)}},
			{Name: Queue, Proxy: true, Rounds: []Round{round(7000, 100*us, 200*us, 0.1), round(7200, 104*us, 220*us, 0.1)}},
		},
	}
	var b strings.Builder
	r.Write(&b)
	got := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		// Per round: added p50 60/80 and 64/100; the lower middle of two is 0.64.
		"| added p50 vs the bare hop's | 0.64× (queue +60 µs, bare +80 µs) | ≤ 0.8× |",
		// 100/200 and 100/200.
		"| added p99 vs the bare hop's | 0.50× (queue +100 µs, bare +200 µs) | ≤ 1.0× |",
		// 7000/10000 = 0.70, 7200/12000 = 0.60: the lower middle is 0.60.
		"| throughput vs direct | 0.60× | ≥ 0.65× |",
		"| throughput vs the bare hop | 1.40× | ≥ 1.2× |",
		"| CPU per 1000 rps (at 1000 rps; at max rps) | 0.100; 0.100 vCPU (bare hop: 0.200; 0.200) | ≤ 0.12 vCPU |",
		"| direct | 10000 | 40 µs | 100 µs | — | — | 0 | 0 |",
		"| queue sidecar hop | 7000 | 100 µs | 200 µs | 0.100 | 0.100 | 0 | 0 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(got, "preliminary") {
		t.Error("an idle machine's run is marked preliminary")
	}
}
