package deadline

import (
	"testing"
	"time"
)

// The request-level behaviour is tested through its users: pkg/queue's
// timeout tests and pkg/activator's TestRevisionTimeouts.
func TestFirst(t *testing.T) {
	for _, tc := range []struct {
		t    Timeouts
		want time.Duration
	}{
		{Timeouts{FirstByte: 10 * time.Second}, 10 * time.Second},
		{Timeouts{FirstByte: 10 * time.Second, Idle: 3 * time.Second}, 3 * time.Second},
		{Timeouts{FirstByte: 2 * time.Second, Idle: 3 * time.Second}, 2 * time.Second},
	} {
		if got := tc.t.First(); got != tc.want {
			t.Errorf("%+v.First() = %v, want %v", tc.t, got, tc.want)
		}
	}
}
