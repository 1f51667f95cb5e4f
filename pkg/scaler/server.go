package scaler

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
)

// The KEDA external scaler service. KEDA calls IsActive and GetMetrics on
// every polling interval, GetMetricSpec when it (re)builds the HPA, and keeps
// one StreamIsActive open per ScaledObject, acting at once on every "true".

func specOf(ref *pb.ScaledObjectRef) (Spec, error) {
	s, err := ParseSpec(ref)
	if err != nil {
		return Spec{}, status.Error(codes.InvalidArgument, err.Error())
	}
	return s, nil
}

// IsActive implements KEDA's external scaler.
func (s *Scaler) IsActive(_ context.Context, ref *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	spec, err := specOf(ref)
	if err != nil {
		return nil, err
	}
	return &pb.IsActiveResponse{Result: s.Active(spec)}, nil
}

// StreamIsActive implements KEDA's external push scaler: it sends "true" as
// soon as a cold request for the revision is signalled, and once when the
// stream opens if the revision is active then. It never sends "false": KEDA
// ignores it and scales to zero through IsActive and its cooldown.
func (s *Scaler) StreamIsActive(ref *pb.ScaledObjectRef, stream pb.ExternalScaler_StreamIsActiveServer) error {
	spec, err := specOf(ref)
	if err != nil {
		return err
	}
	wake, activeNow, cancel := s.subscribe(spec)
	defer cancel()
	push := func() error {
		s.metrics.pushes.Inc()
		return stream.Send(&pb.IsActiveResponse{Result: true})
	}
	if activeNow {
		if err := push(); err != nil {
			return err
		}
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-wake:
			if err := push(); err != nil {
				return err
			}
		}
	}
}

// GetMetricSpec implements KEDA's external scaler: one metric, named after
// Knative's metric, with the per-pod target encoded for KEDA's milli
// rounding (see metricTarget).
func (s *Scaler) GetMetricSpec(_ context.Context, ref *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	spec, err := specOf(ref)
	if err != nil {
		return nil, err
	}
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{
		MetricName:      spec.Metric,
		TargetSizeFloat: metricTarget(spec.Target),
	}}}, nil
}

// GetMetrics implements KEDA's external scaler: the value makes the HPA's
// ceil(value/target) equal the pods Knative's KPA would want (see
// metricValue), never fewer than are ready while this replica's window is
// partial (see partialLocked).
//
// For a revision this replica has not gathered yet (KEDA's connection just
// moved here) it first waits for the revision's first gathering round, then
// answers; if none comes within firstRoundWait it answers Unavailable.
// KEDA passes the error on to the HPA (external_scaler.go GetMetricsAndActivity,
// scale_handler.go GetScaledObjectMetrics), and an HPA whose only metric
// fails keeps the current scale (kubernetes horizontal.go,
// computeReplicasForMetrics and reconcileAutoscaler). The error is only the
// fallback, not the answer during the whole warm-up, because KEDA treats
// every error as a scaler failure: a KEDAScalerFailed event, its scaler
// cache rebuilt, and from its polling (which calls GetMetrics before
// IsActive) a ScaledObject Ready=False "TriggerError" until the next poll;
// after a failover that would hit every idle revision. IsActive does not
// wait: KEDA always asks GetMetrics first in the same poll.
func (s *Scaler) GetMetrics(ctx context.Context, req *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	spec, err := specOf(req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	if !s.awaitFirstRound(ctx, spec) {
		return nil, status.Errorf(codes.Unavailable, "revision %s: this scaler replica has not gathered its load yet (it was just asked about it); the HPA keeps the current scale until it has", spec.Revision)
	}
	d := s.Decide(spec)
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName:       spec.Metric,
		MetricValueFloat: metricValue(d.Desired, spec.Target),
	}}}, nil
}
