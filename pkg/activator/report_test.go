package activator

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"csclr.dev/csclr/pkg/stats"
)

func TestReportHandlerCountsHeldRequests(t *testing.T) {
	b := NewBalancer(BalancerConfig{Pods: &fakePods{}, Revisions: fakeRevisions{}, Replicas: func() int { return 1 }, QueueDepth: 10, Clock: clock.RealClock{}})
	s := b.revision(rev1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _, _ = s.thr.acquire(ctx, time.Minute, false, nil); close(done) }()
	for {
		if reps := b.Reports("act-1"); len(reps) == 1 && reps[0].InFlight == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	w := httptest.NewRecorder()
	ReportHandler(b, "act-1").ServeHTTP(w, httptest.NewRequest("GET", "/stats/revisions", nil))
	var reps []stats.Report
	if err := json.Unmarshal(w.Body.Bytes(), &reps); err != nil {
		t.Fatalf("decoding %q: %v", w.Body.String(), err)
	}
	if len(reps) != 1 || reps[0].Revision != "ns/hello-00001" || reps[0].Pod != "act-1" || reps[0].InFlight != 1 || reps[0].Requests != 1 {
		t.Errorf("reports = %+v, want one held request of ns/hello-00001 from act-1", reps)
	}
	cancel()
	<-done
	b.Sweep()
	if len(b.Reports("act-1")) != 0 {
		t.Error("Sweep kept an idle revision")
	}
}
