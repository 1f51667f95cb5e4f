// Package scaler is KEDA's external-push scaler for csclr revisions. It runs
// inside every activator replica (gRPC on port 9093 behind Service
// csclr-activator in csclr-system).
//
// Inputs. Once a second the Gatherer scrapes every ready pod of every
// revision KEDA has asked about (the ready endpoints of the revision's
// <rev>-private Service) at :9090/stats (a stats.Report from the queue
// sidecar), and every activator at :9090/stats/revisions (ActivatorStatsPath:
// the requests it holds for revisions without a ready pod). Reports carry
// cumulative counters; the scaler takes per-source deltas, so any number of
// scaler replicas can scrape the same pods, and a restarted reporter (new
// start time or counters going backwards) counts from zero. The sum over all
// sources is the revision's load for that second.
//
// Decision. Knative's KPA: a stable window (default 60s) and a panic window
// (default 10 % of it); desired = ceil(stable average / target), or, in panic
// mode (panic average ≥ threshold % × target × ready pods; left one stable
// window after the condition last held), the highest ceil(panic average /
// target) seen while panicking; rate-limited to ×1000 up and ÷2 down per
// decision. See decide.go for how the decision is encoded so that KEDA's HPA
// (desired = ceil(value/target) on milli-quantities) lands on exactly it.
//
// A replica without the history. Each replica gathers a revision only from
// when it first hears of it, so when KEDA's connection moves (the replica
// holding it died, or an activator rollout) the new one starts with an
// empty window while the revision's pods serve. GetMetrics then waits for
// the revision's first gathering round (an error if none comes in
// firstRoundWait: the HPA keeps the current scale), and until the window
// spans a stable window the decision never goes below the pods ready now
// (scale-ups pass). A window that began with no pod ready (a cold start,
// which pokes make every replica see) lacks nothing and is used as is. See
// partialLocked and GetMetrics for why not an error throughout.
//
// Activity. IsActive is true while a request is in flight or held, while the
// stable window has any load, within a stable window of a cold-request
// signal, or while the window is partial as above. StreamIsActive sends
// "true" the moment a cold request is signalled (Scaler.ColdRequest),
// through a one-slot channel per stream that coalesces bursts and never
// blocks the data path. KEDA holds one stream per ScaledObject on whichever
// replica its connection reached, so each activator's Signaller also POSTs
// PokePath?revision=<ns>/<name> to its peers' admin ports (once per revision
// per second, bounded in flight, failures ignored: IsActive polling is the
// fallback).
//
// Trigger metadata read from the ScaledObject (the revision reconciler's
// contract): namespace, revision, metric (concurrency|rps), target (the
// effective per-pod target), window (Go duration), panicWindowPercentage,
// panicThresholdPercentage. "revision" may also be "<ns>/<name>", and
// without it the ScaledObject's own namespace/name are used.
package scaler
