package scaler

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
)

// Trigger metadata keys the revision reconciler writes into the ScaledObject's
// external-push trigger (KEDA passes them to every call unchanged).
const (
	MetaScalerAddress     = "scalerAddress"            // host:port of the scaler gRPC service (KEDA's own key)
	MetaNamespace         = "namespace"                // the revision's namespace (default: the ScaledObject's)
	MetaRevision          = "revision"                 // the revision's name, or "<namespace>/<name>"
	MetaMetric            = "metric"                   // "concurrency" (default) or "rps"
	MetaTarget            = "target"                   // effective per-pod target (float ≥ 0.01): Knative's ResolveMetricTarget
	MetaStableWindow      = "window"                   // Go duration, default 60s
	MetaPanicWindowPct    = "panicWindowPercentage"    // float, default 10
	MetaPanicThresholdPct = "panicThresholdPercentage" // float, default 200
)

// Metric names as Knative's autoscaling.knative.dev/metric annotation spells them.
const (
	MetricConcurrency = "concurrency"
	MetricRPS         = "rps"
)

// Knative's defaults (config-autoscaler).
const (
	DefaultStableWindow      = 60 * time.Second
	DefaultPanicWindowPct    = 10.0
	DefaultPanicThresholdPct = 200.0
	defaultConcurrencyTarget = 100 * 0.7 // target 100 × utilization 70 %
	defaultRPSTarget         = 200 * 0.7
)

// Spec is how one revision scales.
type Spec struct {
	Revision          types.NamespacedName
	Metric            string
	Target            float64 // per pod
	StableWindow      time.Duration
	PanicWindowPct    float64
	PanicThresholdPct float64
}

// PanicWindow is the panic window's length, never shorter than one second
// (one gathering tick).
func (s Spec) PanicWindow() time.Duration {
	w := time.Duration(float64(s.StableWindow) * s.PanicWindowPct / 100).Truncate(time.Second)
	if w < time.Second {
		w = time.Second
	}
	return w
}

// ParseSpec reads a revision's scaling spec from the ScaledObject reference
// KEDA sends. The revision comes from the "revision" key or, failing that,
// from the ScaledObject's own namespace and name (they are the revision's).
func ParseSpec(ref *pb.ScaledObjectRef) (Spec, error) {
	if ref == nil {
		return Spec{}, fmt.Errorf("scaler: empty ScaledObject reference")
	}
	md := ref.GetScalerMetadata()
	where := ref.GetNamespace() + "/" + ref.GetName()
	s := Spec{
		Revision:          types.NamespacedName{Namespace: ref.GetNamespace(), Name: ref.GetName()},
		Metric:            MetricConcurrency,
		StableWindow:      DefaultStableWindow,
		PanicWindowPct:    DefaultPanicWindowPct,
		PanicThresholdPct: DefaultPanicThresholdPct,
	}
	if v := md[MetaNamespace]; v != "" {
		s.Revision.Namespace = v
	}
	if v := md[MetaRevision]; v != "" {
		s.Revision.Name = v
		if ns, name, qualified := strings.Cut(v, "/"); qualified {
			if ns == "" || name == "" {
				return Spec{}, fmt.Errorf("ScaledObject %s: trigger metadata %s=%q is neither <name> nor <namespace>/<name>: fix the revision reconciler", where, MetaRevision, v)
			}
			s.Revision = types.NamespacedName{Namespace: ns, Name: name}
		}
	}
	if s.Revision.Name == "" || s.Revision.Namespace == "" {
		return Spec{}, fmt.Errorf("scaler: ScaledObject reference names no revision (set trigger metadata %q)", MetaRevision)
	}
	switch m := md[MetaMetric]; m {
	case "", MetricConcurrency:
		s.Target = defaultConcurrencyTarget
	case MetricRPS:
		s.Metric, s.Target = MetricRPS, defaultRPSTarget
	default:
		return Spec{}, fmt.Errorf("ScaledObject %s: trigger metadata %s=%q is not %q or %q", where, MetaMetric, m, MetricConcurrency, MetricRPS)
	}
	var err error
	if s.Target, err = floatKey(md, MetaTarget, s.Target, 0.01, where); err != nil {
		return Spec{}, err
	}
	if v := md[MetaStableWindow]; v != "" {
		if s.StableWindow, err = time.ParseDuration(v); err != nil || s.StableWindow < time.Second {
			return Spec{}, fmt.Errorf("ScaledObject %s: trigger metadata %s=%q is not a duration of at least 1s", where, MetaStableWindow, v)
		}
	}
	if s.PanicWindowPct, err = floatKey(md, MetaPanicWindowPct, s.PanicWindowPct, 1, where); err != nil {
		return Spec{}, err
	}
	if s.PanicThresholdPct, err = floatKey(md, MetaPanicThresholdPct, s.PanicThresholdPct, 100, where); err != nil {
		return Spec{}, err
	}
	return s, nil
}

func floatKey(md map[string]string, key string, def, min float64, where string) (float64, error) {
	v, ok := md[key]
	if !ok || v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min {
		return 0, fmt.Errorf("ScaledObject %s: trigger metadata %s=%q is not a number ≥ %g", where, key, v, min)
	}
	return f, nil
}
