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
	if activeNow {
		if err := stream.Send(&pb.IsActiveResponse{Result: true}); err != nil {
			return err
		}
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-wake:
			if err := stream.Send(&pb.IsActiveResponse{Result: true}); err != nil {
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
// metricValue).
func (s *Scaler) GetMetrics(_ context.Context, req *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	spec, err := specOf(req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	d := s.Decide(spec)
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName:       spec.Metric,
		MetricValueFloat: metricValue(d.Desired, spec.Target),
	}}}, nil
}
