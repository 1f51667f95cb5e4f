package benchsvc

import (
	"slices"
	"testing"

	"csclr.dev/csclr/pkg/bench/benchns"
)

func TestNames(t *testing.T) {
	if got := Names("cold", 3); !slices.Equal(got, []string{"cold-01", "cold-02", "cold-03"}) {
		t.Errorf("Names(cold, 3) = %v", got)
	}
	if got := Names("pcs", 100); got[0] != "pcs-001" || got[99] != "pcs-100" {
		t.Errorf("Names(pcs, 100): first %s, last %s; want one width", got[0], got[99])
	}
}

func TestMakeServiceStartsAtZero(t *testing.T) {
	svc := MakeService(Spec{Namespace: "ns", Image: "img", Bench: "load-ramp",
		Annotations: map[string]string{"autoscaling.knative.dev/target": "300"}}, "ramp")
	ann := svc.Spec.Template.Annotations
	if ann[InitialScale] != "0" || ann["autoscaling.knative.dev/target"] != "300" {
		t.Errorf("revision annotations %v: want initial-scale 0 and the spec's", ann)
	}
	if svc.Labels[benchns.Label] != "load-ramp" || svc.Namespace != "ns" || svc.Name != "ramp" {
		t.Errorf("metadata %+v", svc.ObjectMeta)
	}
	if c := svc.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != "img" {
		t.Errorf("containers %+v", c)
	}
}
