package queue

import (
	"time"

	"csclr.dev/csclr/pkg/deadline"
)

// Clock is the time source of the sidecar, injected so tests can control it.
type Clock = deadline.Clock

// Timer is the part of *time.Timer the sidecar uses.
type Timer = deadline.Timer

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
