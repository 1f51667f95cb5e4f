//go:build integration

package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/gateway"
)

// idleService is what a csclr cluster holds for one Knative Service at zero
// that the activator caches (its Revision, Ingress, HTTPRoute and
// EndpointSlices), as read from a `csclr dev` cluster, with the Service's
// name idlesvc and namespace NAMESPACE to be replaced.
//
//go:embed testdata/idle-service.json
var idleService string

// TestIdleRevisionMemory measures the heap the activator's informer caches
// and routing table take per idle revision (Revisions themselves are read
// when first requested, not cached) (benchmarks.md: "activator
// memory per idle revision", goal ≤ 4 KiB with 10k revisions). It reports
// and asserts nothing about the figure (benchmarks never gate CI):
//
//	CSCLR_IDLE_REVISIONS=10000 go test -tags integration -run TestIdleRevisionMemory -v ./pkg/activator/app/
//
// CSCLR_IDLE_HEAP_PROFILE=<file> also writes a heap profile once the cache
// has synced (go tool pprof -sample_index=inuse_space <file>).
func TestIdleRevisionMemory(t *testing.T) {
	n := 300
	if v := os.Getenv("CSCLR_IDLE_REVISIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("CSCLR_IDLE_REVISIONS=%q: want a positive number", v)
		}
	}
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const ns = "idle"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	createIdleServices(t, ctx, env.Client, ns, n)
	t.Logf("created %d idle Services' objects in %s", n, time.Since(start).Round(time.Millisecond))

	before := heapInUse()
	cfg := Config{SystemNamespace: "csclr-system", ActivatorService: "csclr-activator", IngressClass: "csclr", ClusterDomain: "cluster.local"}
	c, l, err := newCache(ctx, env.Config, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range watched() {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	go func() { _ = c.Start(cacheCtx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	gwOpts := gateway.Options{IngressClass: cfg.IngressClass, ClusterDomain: cfg.ClusterDomain}
	store := gateway.NewStore(gwOpts)
	gateway.NewSyncer(store, l, gwOpts).Rebuild()
	after := heapInUse()

	host := fmt.Sprintf("%s.%s.svc.cluster.local", idleName(n-1), ns)
	if _, ok := store.Load().Resolve(host, nil, 0); !ok {
		t.Errorf("the routing table does not know %s", host)
	}
	if info, ok := l.Revision(revisionKey(ns, n-1)); !ok || info.Timeout != 300*time.Second {
		t.Errorf("revision %v: %+v, %v; want its timeoutSeconds (300 s)", revisionKey(ns, n-1), info, ok)
	}
	if path := os.Getenv("CSCLR_IDLE_HEAP_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	per := float64(after-before) / float64(n)
	t.Logf("%d idle revisions: heap %.1f MiB → %.1f MiB, %.0f bytes (%.2f KiB) per revision (goal ≤ 4 KiB)",
		n, float64(before)/(1<<20), float64(after)/(1<<20), per, per/1024)
	runtime.KeepAlive(c)
	runtime.KeepAlive(store)
}

// heapInUse is the live heap after two collections.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func idleName(i int) string { return fmt.Sprintf("s%05d", i) }

func revisionKey(ns string, i int) client.ObjectKey {
	return client.ObjectKey{Namespace: ns, Name: idleName(i) + "-00001"}
}

// createIdleServices creates n copies of idleService in ns, 32 at a time.
func createIdleServices(t *testing.T, ctx context.Context, k client.Client, ns string, n int) {
	t.Helper()
	work := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := createIdleService(ctx, k, ns, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case work <- i:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

func createIdleService(ctx context.Context, k client.Client, ns string, i int) error {
	text := strings.NewReplacer("idlesvc", idleName(i), "NAMESPACE", ns).Replace(idleService)
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(text), &list); err != nil {
		return err
	}
	for _, item := range list.Items {
		obj := &unstructured.Unstructured{Object: item}
		status, hasStatus := item["status"]
		if err := k.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		// The API server drops the status of a create when the kind has a
		// status subresource (Revisions); write it as the controller would.
		if hasStatus && obj.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "serving.knative.dev", Kind: "Revision"}) {
			obj.Object["status"] = status
			if err := k.Status().Update(ctx, obj); err != nil {
				return fmt.Errorf("status of %s: %w", obj.GetName(), err)
			}
		}
	}
	return nil
}

// watched are the kinds Run watches.
func watched() []client.Object {
	return []client.Object{&corev1.Pod{}, &discoveryv1.EndpointSlice{}, &networkingv1.Ingress{}, &gatewayv1.HTTPRoute{}}
}
