package benchsvc

import (
	"context"
	"errors"
	"io"
	"time"

	"k8s.io/client-go/rest"

	"csclr.dev/csclr/pkg/bench/benchns"
	"csclr.dev/csclr/pkg/bench/podwatch"
)

// SessionOptions say where a cluster benchmark runs.
type SessionOptions struct {
	SystemNamespace, ActivatorService string // the gateway's Service
	Gateway                           string // host:port overriding the Service's ClusterIP:80, if set
	Namespace, Bench                  string // the benchmark's own namespace and its label value
	Keep                              bool   // leave the namespace for a look afterwards
	CleanupTimeout                    time.Duration
	Progress                          io.Writer
}

// Session is what every cluster benchmark starts from: clients, the
// gateway, its own labelled namespace and a pod watch on it.
type Session struct {
	Clients  Clients
	Gateway  string
	Selector map[string]string // the activator pods' labels (they serve the scaler too)
	Pods     *podwatch.Watch
	close    func() error
}

// Start opens a session; Close must follow, also after a failure later on.
func Start(ctx context.Context, cfg *rest.Config, o SessionOptions) (*Session, error) {
	cl, err := NewClients(cfg)
	if err != nil {
		return nil, err
	}
	s := &Session{Clients: cl, Pods: podwatch.New(), close: func() error { return nil }}
	if s.Gateway, s.Selector, err = Gateway(ctx, cl.Kube, o.SystemNamespace, o.ActivatorService); err != nil {
		return nil, err
	}
	if o.Gateway != "" {
		s.Gateway = o.Gateway
	}
	if err := benchns.Create(ctx, cl.Kube, o.Namespace, o.Bench); err != nil {
		return nil, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	s.close = func() error {
		stopWatch()
		if o.Keep {
			return nil
		}
		return benchns.Delete(cl.Kube, o.Namespace, o.CleanupTimeout, o.Progress)
	}
	if err := s.Pods.Start(watchCtx, cl.Kube, o.Namespace); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

// Close stops the pod watch and deletes the namespace (unless Keep).
func (s *Session) Close() error { return s.close() }
