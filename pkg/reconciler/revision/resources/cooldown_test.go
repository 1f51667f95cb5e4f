package resources

import (
	"testing"
	"time"
)

// The retention period and scale-down delay are minimums after the scaler
// turns inactive; KEDA's cooldown counts from its last poll that saw the
// revision active, up to one interval earlier, so they get the interval on
// top. The grace period is an upper bound and is taken as it is.
func TestCooldown(t *testing.T) {
	const poll = PollingIntervalSeconds * time.Second
	for _, tc := range []struct {
		name                    string
		grace, retention, delay time.Duration
		want                    time.Duration
	}{
		{name: "Knative's defaults", grace: 30 * time.Second, want: 30 * time.Second},
		{name: "a short grace alone", grace: 6 * time.Second, want: 6 * time.Second},
		{name: "retention below the grace after the poll", grace: 30 * time.Second, retention: 15 * time.Second, want: 30 * time.Second},
		{name: "retention", grace: 30 * time.Second, retention: 25 * time.Second, want: 25*time.Second + poll},
		{name: "scale-down delay", grace: 30 * time.Second, delay: 45 * time.Second, want: 45*time.Second + poll},
		{name: "the longer of the two", grace: 30 * time.Second, retention: time.Hour, delay: time.Minute, want: time.Hour + poll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cooldown(tc.grace, tc.retention, tc.delay); got != tc.want {
				t.Errorf("cooldown(%s, %s, %s) = %s, want %s", tc.grace, tc.retention, tc.delay, got, tc.want)
			}
		})
	}
}
