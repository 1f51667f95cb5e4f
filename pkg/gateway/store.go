package gateway

import (
	"context"
	"sync/atomic"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Store holds the current table. Readers call Load on every request; the
// watcher swaps in a new table with Store.
type Store struct {
	p atomic.Pointer[Table]
}

// NewStore starts with an empty table (every host unknown).
func NewStore(opts Options) *Store {
	s := &Store{}
	s.p.Store(Build(nil, nil, opts))
	return s
}

// Load returns the current table.
func (s *Store) Load() *Table { return s.p.Load() }

// Lister reads the current objects, e.g. from informer caches.
type Lister interface {
	Ingresses() ([]*networkingv1.Ingress, error)
	HTTPRoutes() ([]*gatewayv1.HTTPRoute, error)
}

// Syncer rebuilds the table whenever it is poked. Pokes coalesce: a burst of
// informer events costs one or two rebuilds, never a queue of them.
type Syncer struct {
	Store   *Store
	Lister  Lister
	Options Options
	OnError func(error)

	poke chan struct{}
}

// NewSyncer returns a Syncer; call Changed from informer event handlers and
// Run in a goroutine.
func NewSyncer(store *Store, lister Lister, opts Options) *Syncer {
	return &Syncer{Store: store, Lister: lister, Options: opts, poke: make(chan struct{}, 1)}
}

// Changed schedules a rebuild; it never blocks.
func (s *Syncer) Changed() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run rebuilds on every Changed until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.poke:
			s.Rebuild()
		}
	}
}

// Rebuild builds and swaps in a table from the lister now.
func (s *Syncer) Rebuild() {
	ings, err := s.Lister.Ingresses()
	if err == nil {
		var hrs []*gatewayv1.HTTPRoute
		if hrs, err = s.Lister.HTTPRoutes(); err == nil {
			s.Store.p.Store(Build(ings, hrs, s.Options))
			return
		}
	}
	if s.OnError != nil {
		s.OnError(err) // keep serving the previous table
	}
}
