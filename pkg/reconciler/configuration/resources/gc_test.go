package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/gc"
)

func rev(name string, state v1.RoutingState, activeAgo time.Duration, annotations ...string) *v1.Revision {
	r := &v1.Revision{ObjectMeta: metav1.ObjectMeta{
		Name: name, CreationTimestamp: metav1.NewTime(now.Add(-100 * time.Hour)),
	}}
	r.SetRoutingState(state, now.Add(-activeAgo))
	for i := 0; i+1 < len(annotations); i += 2 {
		r.Annotations[annotations[i]] = annotations[i+1]
	}
	return r
}

func TestCollectable(t *testing.T) {
	cfg := &v1.Configuration{Status: v1.ConfigurationStatus{ConfigurationStatusFields: v1.ConfigurationStatusFields{LatestReadyRevisionName: "latest"}}}
	revs := []*v1.Revision{
		rev("old-reserve", v1.RoutingStateReserve, 20*time.Hour),
		rev("older-reserve", v1.RoutingStateReserve, 30*time.Hour),
		rev("fresh-reserve", v1.RoutingStateReserve, time.Hour),
		rev("pinned", v1.RoutingStateReserve, 40*time.Hour, serving.RevisionPreservedAnnotationKey, "true"),
		rev("routed", v1.RoutingStateActive, 50*time.Hour),
		rev("latest", v1.RoutingStateReserve, 60*time.Hour),
	}
	for _, tc := range []struct {
		name string
		gc   gc.Config
		want []string
	}{{
		name: "stale beyond min",
		gc:   gc.Config{RetainSinceCreateTime: 48 * time.Hour, RetainSinceLastActiveTime: 15 * time.Hour, MinNonActiveRevisions: 1, MaxNonActiveRevisions: 1000},
		want: []string{"older-reserve", "old-reserve"},
	}, {
		name: "min keeps the newest stale one",
		gc:   gc.Config{RetainSinceCreateTime: 48 * time.Hour, RetainSinceLastActiveTime: 15 * time.Hour, MinNonActiveRevisions: 2, MaxNonActiveRevisions: 1000},
		want: []string{"older-reserve"},
	}, {
		name: "default min 20 keeps all",
		gc:   gc.Config{RetainSinceCreateTime: 48 * time.Hour, RetainSinceLastActiveTime: 15 * time.Hour, MinNonActiveRevisions: 20, MaxNonActiveRevisions: 1000},
	}, {
		name: "max removes the oldest non-stale",
		gc:   gc.Config{RetainSinceCreateTime: gc.Disabled, RetainSinceLastActiveTime: gc.Disabled, MinNonActiveRevisions: 0, MaxNonActiveRevisions: 1},
		want: []string{"older-reserve", "old-reserve"},
	}, {
		name: "all disabled",
		gc:   gc.Config{RetainSinceCreateTime: gc.Disabled, RetainSinceLastActiveTime: gc.Disabled, MinNonActiveRevisions: 0, MaxNonActiveRevisions: gc.Disabled},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Collectable(&tc.gc, cfg, revs, now) {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Collectable (-want +got):\n%s", diff)
			}
		})
	}
}
