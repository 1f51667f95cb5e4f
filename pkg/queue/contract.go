// Package queue is the sidecar in every revision pod (cmd/queue).
package queue

// The contract between the revision reconciler (which builds the pod) and the
// queue sidecar (which reads its configuration from these variables).
const (
	// Ports the sidecar listens on; all are reserved for users by Knative's
	// validation.
	ServingPort = 8012 // requests for the revision: HTTP/1.1 and h2c
	AdminPort   = 8022 // /ready for the kubelet, /drain for preStop
	MetricsPort = 9090 // /metrics (Prometheus) and /stats (pkg/stats.Report as JSON)

	EnvServingPort          = "QUEUE_SERVING_PORT"
	EnvAdminPort            = "QUEUE_ADMIN_PORT"
	EnvMetricsPort          = "QUEUE_METRICS_PORT"
	EnvUserPort             = "USER_PORT"                               // the user container's port on localhost
	EnvContainerConcurrency = "CONTAINER_CONCURRENCY"                   // 0 = unlimited
	EnvTimeoutSeconds       = "REVISION_TIMEOUT_SECONDS"                // spec.timeoutSeconds
	EnvResponseStartTimeout = "REVISION_RESPONSE_START_TIMEOUT_SECONDS" // 0 = none
	EnvIdleTimeout          = "REVISION_IDLE_TIMEOUT_SECONDS"           // 0 = none
	EnvReadinessProbe       = "SERVING_READINESS_PROBE"                 // JSON corev1.Probe of the serving container
	EnvNamespace            = "SERVING_NAMESPACE"
	EnvService              = "SERVING_SERVICE"
	EnvConfiguration        = "SERVING_CONFIGURATION"
	EnvRevision             = "SERVING_REVISION"
	EnvPodName              = "SERVING_POD"    // downward API
	EnvPodIP                = "SERVING_POD_IP" // downward API

	// ProbeHeader, sent to the serving port with the value ProbeHeaderValue,
	// makes the sidecar answer 200 itself when the user container is ready
	// (and 503 when not) instead of forwarding: the activator probes new pods
	// this way, directly by pod IP.
	ProbeHeader      = "K-Network-Probe"
	ProbeHeaderValue = "queue"
	ReadyPath        = "/ready"
	// DrainPath (GET on AdminPort) starts the drain and returns once it is
	// over: the pod builder gives both the sidecar and the user container a
	// preStop httpGet of it, so the user container gets its SIGTERM only
	// after the requests already in the pod have been answered.
	DrainPath = "/drain"
	StatsPath = "/stats"
)

// Optional tuning of the sidecar; the pod builder may leave them unset.
const (
	EnvQueueDepth  = "QUEUE_DEPTH"        // requests that may wait for a slot; default max(100, 10×containerConcurrency)
	EnvDrainPeriod = "QUEUE_DRAIN_PERIOD" // Go duration to keep serving after SIGTERM or /drain; default 5s
	EnvRequestLog  = "QUEUE_REQUEST_LOG"  // "false" turns the per-request JSON log line off
	// Tracing is configured by tracing.EnvBackend, tracing.EnvEndpoint and
	// tracing.EnvSampleRate (pkg/tracing), set only when ConfigMap
	// config-tracing turns it on.

	// ProbeUserAgent is sent by the sidecar's HTTP readiness probe of the
	// user container; like the kubelet's, it starts with "kube-probe/".
	ProbeUserAgent = "kube-probe/csclr-queue"
)
