package scaler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
)

func TestParseSpec(t *testing.T) {
	rev := Key{Namespace: "ns", Name: "hello-00001"}
	tests := []struct {
		name    string
		ref     *pb.ScaledObjectRef
		want    Spec
		wantErr bool
	}{{
		name: "defaults from the ScaledObject's own name",
		ref:  &pb.ScaledObjectRef{Namespace: "ns", Name: "hello-00001"},
		want: Spec{Revision: rev, Metric: MetricConcurrency, Target: 70, StableWindow: time.Minute, PanicWindowPct: 10, PanicThresholdPct: 200},
	}, {
		name: "every key",
		ref: &pb.ScaledObjectRef{Namespace: "other", Name: "so", ScalerMetadata: map[string]string{
			MetaNamespace: "ns", MetaRevision: "hello-00001", MetaMetric: "rps", MetaTarget: "12.5", MetaStableWindow: "30s",
			MetaPanicWindowPct: "20", MetaPanicThresholdPct: "150", MetaScalerAddress: "x:9093",
		}},
		want: Spec{Revision: rev, Metric: MetricRPS, Target: 12.5, StableWindow: 30 * time.Second, PanicWindowPct: 20, PanicThresholdPct: 150},
	}, {
		name: "rps default target",
		ref:  &pb.ScaledObjectRef{Namespace: "ns", Name: "hello-00001", ScalerMetadata: map[string]string{MetaMetric: "rps"}},
		want: Spec{Revision: rev, Metric: MetricRPS, Target: 140, StableWindow: time.Minute, PanicWindowPct: 10, PanicThresholdPct: 200},
	}, {
		name: "qualified revision",
		ref:  &pb.ScaledObjectRef{Namespace: "x", Name: "y", ScalerMetadata: map[string]string{MetaRevision: "ns/hello-00001"}},
		want: Spec{Revision: rev, Metric: MetricConcurrency, Target: 70, StableWindow: time.Minute, PanicWindowPct: 10, PanicThresholdPct: 200},
	}, {
		name:    "bad revision",
		ref:     &pb.ScaledObjectRef{Namespace: "ns", Name: "x", ScalerMetadata: map[string]string{MetaRevision: "/x"}},
		wantErr: true,
	}, {
		name:    "bad metric",
		ref:     &pb.ScaledObjectRef{Namespace: "ns", Name: "x", ScalerMetadata: map[string]string{MetaMetric: "cpu"}},
		wantErr: true,
	}, {
		name:    "target too small",
		ref:     &pb.ScaledObjectRef{Namespace: "ns", Name: "x", ScalerMetadata: map[string]string{MetaTarget: "0"}},
		wantErr: true,
	}, {
		name:    "bad window",
		ref:     &pb.ScaledObjectRef{Namespace: "ns", Name: "x", ScalerMetadata: map[string]string{MetaStableWindow: "60"}},
		wantErr: true,
	}, {
		name:    "nil",
		wantErr: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSpec(tc.ref)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSpec() error = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSpec() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPanicWindow(t *testing.T) {
	for _, tc := range []struct {
		stable time.Duration
		pct    float64
		want   time.Duration
	}{{time.Minute, 10, 6 * time.Second}, {6 * time.Second, 10, time.Second}, {time.Minute, 100, time.Minute}, {2 * time.Second, 1, time.Second}} {
		if got := (Spec{StableWindow: tc.stable, PanicWindowPct: tc.pct}).PanicWindow(); got != tc.want {
			t.Errorf("PanicWindow(%v, %v%%) = %v, want %v", tc.stable, tc.pct, got, tc.want)
		}
	}
}
