package configuration

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type revState int

const (
	unknown revState = iota
	ready
	failed
	// readyStale is Ready but for an older spec (observedGeneration behind):
	// IsReady says no.
	readyStale
)

// revision is revision name of configuration "hello" in "ns", stamped from
// configuration generation gen ("" for no generation label).
func revision(name, gen string, state revState) *v1.Revision {
	rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name, Generation: 1,
		Labels: map[string]string{serving.ConfigurationLabelKey: "hello"},
	}}
	if gen != "" {
		rev.Labels[serving.ConfigurationGenerationLabelKey] = gen
	}
	rev.Status.InitializeConditions()
	rev.Status.ObservedGeneration = 1
	switch state {
	case ready, readyStale:
		rev.Status.MarkResourcesAvailableTrue()
		rev.Status.MarkContainerHealthyTrue()
		if state == readyStale {
			rev.Status.ObservedGeneration = 0
		}
	case failed:
		rev.Status.MarkContainerHealthyFalse("ExitCode1", "container exited with code 1")
	}
	return rev
}

func TestLatestReady(t *testing.T) {
	cases := []struct {
		name        string
		generation  int64
		byo         string // spec.template.metadata.name
		latestReady string // status.latestReadyRevisionName
		revs        []*v1.Revision
		latest      string       // the latest created revision, among revs ...
		unlisted    *v1.Revision // ... or not listed yet
		want        string       // "" keeps latestReady as it is
	}{{
		name:       "first ready revision",
		generation: 1,
		revs:       []*v1.Revision{revision("hello-00001", "1", ready)},
		latest:     "hello-00001",
		want:       "hello-00001",
	}, {
		name:       "nothing ready yet",
		generation: 1,
		revs:       []*v1.Revision{revision("hello-00001", "1", failed)},
		latest:     "hello-00001",
	}, {
		name:        "newer revision ready: forward",
		generation:  2,
		latestReady: "hello-00001",
		revs:        []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", ready)},
		latest:      "hello-00002",
		want:        "hello-00002",
	}, {
		name:        "latest ready fails: stays, never back to an older ready one",
		generation:  2,
		latestReady: "hello-00002",
		revs:        []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", failed)},
		latest:      "hello-00002",
	}, {
		name:        "latest ready fails while a newer one comes up: stays",
		generation:  3,
		latestReady: "hello-00002",
		revs: []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", failed),
			revision("hello-00003", "3", unknown)},
		latest: "hello-00003",
	}, {
		name:        "latest created fails: latest ready stays",
		generation:  3,
		latestReady: "hello-00002",
		revs: []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", ready),
			revision("hello-00003", "3", failed)},
		latest: "hello-00003",
		want:   "hello-00002",
	}, {
		name:        "an intermediate revision becomes ready: forward to it",
		generation:  3,
		latestReady: "hello-00001",
		revs: []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", ready),
			revision("hello-00003", "3", unknown)},
		latest: "hello-00003",
		want:   "hello-00002",
	}, {
		name:        "ready for an older spec only does not count",
		generation:  2,
		latestReady: "hello-00001",
		revs:        []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", readyStale)},
		latest:      "hello-00002",
		want:        "hello-00001",
	}, {
		name:        "latest ready deleted: back to the newest ready one left",
		generation:  3,
		latestReady: "hello-00002",
		revs: []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00000", "0", ready),
			revision("hello-00003", "3", unknown)},
		latest: "hello-00003",
		want:   "hello-00001",
	}, {
		name:        "latest ready deleted, none ready: name kept",
		generation:  2,
		latestReady: "hello-00001",
		revs:        []*v1.Revision{revision("hello-00002", "2", unknown)},
		latest:      "hello-00002",
	}, {
		name:        "latest ready deleted and recreated this reconcile: not a floor",
		generation:  2,
		latestReady: "hello-00002",
		revs:        []*v1.Revision{revision("hello-00001", "1", ready)},
		unlisted:    revision("hello-00002", "2", unknown),
		want:        "hello-00001",
	}, {
		name:        "latest created not listed yet but ready",
		generation:  2,
		latestReady: "hello-00001",
		revs:        []*v1.Revision{revision("hello-00001", "1", ready)},
		unlisted:    revision("hello-00002", "2", ready),
		want:        "hello-00002",
	}, {
		name:        "BYO name of an older generation wins",
		generation:  4,
		byo:         "hello-byo",
		latestReady: "hello-00003",
		revs:        []*v1.Revision{revision("hello-byo", "2", ready), revision("hello-00003", "3", ready)},
		latest:      "hello-byo",
		want:        "hello-byo",
	}, {
		name:        "BYO name of an older generation not ready: latest ready stays",
		generation:  4,
		byo:         "hello-byo",
		latestReady: "hello-00003",
		revs: []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-byo", "2", failed),
			revision("hello-00003", "3", failed)},
		latest: "hello-byo",
	}, {
		name:        "latest ready without a generation label: bounded at the configuration's",
		generation:  3,
		latestReady: "hello-odd",
		revs: []*v1.Revision{revision("hello-odd", "", ready), revision("hello-00002", "2", ready),
			revision("hello-00003", "3", unknown)},
		latest: "hello-00003",
	}, {
		name:       "no latest ready: unlabelled revisions go last",
		generation: 2,
		revs: []*v1.Revision{revision("hello-odd", "", ready), revision("hello-00001", "1", ready),
			revision("hello-00002", "2", unknown)},
		latest: "hello-00002",
		want:   "hello-00001",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := testConfig()
			config.Generation = tc.generation
			config.Spec.Template.Name = tc.byo
			config.Status.LatestReadyRevisionName = tc.latestReady
			latest := tc.unlisted
			for _, rev := range tc.revs {
				if rev.Name == tc.latest {
					latest = rev
				}
			}
			got := ""
			if rev := latestReady(config, latest, tc.revs); rev != nil {
				got = rev.Name
			}
			if got != tc.want {
				t.Errorf("latestReady = %q, want %q", got, tc.want)
			}
		})
	}
}

// The Configuration's Ready condition, latestReady and events through a
// reconcile step, with Knative's reasons.
func TestReconcileLatestReady(t *testing.T) {
	failedMessage := `Revision "hello-00002" failed with message: container exited with code 1.`
	cases := []struct {
		name          string
		generation    int64
		created       string // status.latestCreatedRevisionName before
		latestReady   string // status.latestReadyRevisionName before
		readyBefore   *apis.Condition
		revs          []*v1.Revision
		wantReady     string
		wantCondition apis.Condition // status and reason, message if set
		wantEvents    []string
	}{{
		name:       "latest ready fails: stays, Ready False RevisionFailed",
		generation: 2, created: "hello-00002", latestReady: "hello-00002",
		revs:          []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", failed)},
		wantReady:     "hello-00002",
		wantCondition: apis.Condition{Status: "False", Reason: "RevisionFailed", Message: failedMessage},
		wantEvents:    []string{"Warning LatestReadyFailed"},
	}, {
		name:       "failed latest ready recovers: Ready True again",
		generation: 2, created: "hello-00002", latestReady: "hello-00002",
		readyBefore:   &apis.Condition{Status: "False", Reason: "RevisionFailed", Message: failedMessage},
		revs:          []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", ready)},
		wantReady:     "hello-00002",
		wantCondition: apis.Condition{Status: "True"},
	}, {
		name:       "latest created fails: latest ready stays",
		generation: 2, created: "hello-00002", latestReady: "hello-00001",
		revs:          []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", failed)},
		wantReady:     "hello-00001",
		wantCondition: apis.Condition{Status: "False", Reason: "RevisionFailed", Message: failedMessage},
		wantEvents:    []string{"Warning LatestCreatedFailed"},
	}, {
		name:       "newer revision ready: forward",
		generation: 3, created: "hello-00003", latestReady: "hello-00002",
		revs: []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00002", "2", failed),
			revision("hello-00003", "3", ready)},
		wantReady:     "hello-00003",
		wantCondition: apis.Condition{Status: "True"},
		wantEvents:    []string{"Normal LatestReadyUpdate"},
	}, {
		name:       "latest ready deleted: back to the newest ready one left",
		generation: 3, created: "hello-00003", latestReady: "hello-00002",
		revs:          []*v1.Revision{revision("hello-00001", "1", ready), revision("hello-00003", "3", unknown)},
		wantReady:     "hello-00001",
		wantCondition: apis.Condition{Status: "Unknown"},
		wantEvents:    []string{"Normal LatestReadyUpdate"},
	}, {
		name:       "latest ready deleted, none ready: name kept, no RevisionDeleted",
		generation: 2, created: "hello-00002", latestReady: "hello-00001",
		revs:          []*v1.Revision{revision("hello-00002", "2", unknown)},
		wantReady:     "hello-00001",
		wantCondition: apis.Condition{Status: "Unknown"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := make([]client.Object, 0, len(tc.revs))
			for _, rev := range tc.revs {
				objs = append(objs, rev)
			}
			r, _ := newReconciler(t, objs...)
			config := testConfig()
			config.Generation = tc.generation
			config.Status.InitializeConditions()
			config.Status.LatestCreatedRevisionName = tc.created
			config.Status.SetLatestReadyRevisionName(tc.latestReady)
			if tc.readyBefore != nil {
				c := *tc.readyBefore
				c.Type = apis.ConditionReady
				config.Status.SetConditions(apis.Conditions{c})
			}

			if err := r.reconcile(context.Background(), config); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			if got := config.Status.LatestReadyRevisionName; got != tc.wantReady {
				t.Errorf("latestReadyRevisionName = %q, want %q", got, tc.wantReady)
			}
			c := config.Status.GetCondition(apis.ConditionReady)
			want := tc.wantCondition
			if c == nil || c.Status != want.Status || c.Reason != want.Reason || (want.Message != "" && c.Message != want.Message) {
				t.Errorf("Ready = %+v, want %s/%s %q", c, want.Status, want.Reason, want.Message)
			}
			if got := eventPrefixes(r.Recorder.(*events.FakeRecorder)); strings.Join(got, ",") != strings.Join(tc.wantEvents, ",") {
				t.Errorf("events = %v, want %v", got, tc.wantEvents)
			}
		})
	}
}

// eventPrefixes drains the recorded events to their "type reason" part.
func eventPrefixes(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			f := strings.Fields(e)
			out = append(out, f[0]+" "+f[1])
		default:
			return out
		}
	}
}
