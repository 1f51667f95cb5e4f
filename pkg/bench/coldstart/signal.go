package coldstart

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	"csclr.dev/csclr/pkg/bench/benchsvc"
	"csclr.dev/csclr/pkg/scaler"
)

// signalWatch plays KEDA: it holds a StreamIsActive stream for one revision
// on every activator pod (KEDA holds one, on whichever replica its
// connection reached; peers are poked, so each replica's stream fires) and
// records when the first "true" arrives.
type signalWatch struct {
	mu     sync.Mutex
	first  time.Time
	early  bool // "true" arrived before the request: the revision was active already
	armed  bool
	errs   []string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	conns  []*grpc.ClientConn
}

// watchSignal opens the streams and waits settle for them to register with
// the scalers before the request is sent (a stream's registration cannot be
// observed from the client). Errors become part of the result, not fatal.
func watchSignal(ctx context.Context, kube kubernetes.Interface, namespace string, selector map[string]string, port int, rev benchsvc.Target, revNamespace string, settle time.Duration) *signalWatch {
	ctx, cancel := context.WithCancel(ctx)
	s := &signalWatch{cancel: cancel}
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		s.fail(fmt.Errorf("listing the activator pods: %w", err))
		return s
	}
	ref := &pb.ScaledObjectRef{Namespace: revNamespace, Name: rev.Revision,
		ScalerMetadata: map[string]string{scaler.MetaNamespace: revNamespace, scaler.MetaRevision: rev.Revision}}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		s.open(ctx, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)), ref)
	}
	if len(s.conns) == 0 {
		s.fail(fmt.Errorf("no running activator pod in %s matches %v", namespace, selector))
	}
	time.Sleep(settle)
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
	return s
}

func (s *signalWatch) open(ctx context.Context, addr string, ref *pb.ScaledObjectRef) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.fail(fmt.Errorf("scaler %s: %w", addr, err))
		return
	}
	s.conns = append(s.conns, conn)
	stream, err := pb.NewExternalScalerClient(conn).StreamIsActive(ctx, ref)
	if err != nil {
		s.fail(fmt.Errorf("scaler %s: StreamIsActive: %w", addr, err))
		return
	}
	s.wg.Go(func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				if ctx.Err() == nil {
					s.fail(fmt.Errorf("scaler %s: stream: %w", addr, err))
				}
				return
			}
			if resp.GetResult() {
				s.active(time.Now())
			}
		}
	})
}

func (s *signalWatch) active(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.armed:
		s.early = true
	case s.first.IsZero():
		s.first = at
	}
}

func (s *signalWatch) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err.Error())
}

// stop closes the streams and returns the first "true" after arming
// (zero if none) and what went wrong.
func (s *signalWatch) stop() (first time.Time, problem string) {
	s.cancel()
	s.wg.Wait()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.early:
		problem = "the scaler said active before the request"
	case len(s.errs) > 0:
		problem = s.errs[0]
	}
	return s.first, problem
}
