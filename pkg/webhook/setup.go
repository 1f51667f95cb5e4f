package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// SetupWithManager adds the admission webhook to the controller's manager:
// the certificate manager (Secret, renewal, caBundle) and the TLS server on
// opts.Port. Both run on every replica, not only the leader, so that any
// replica behind the Service can answer. It also registers a readyz check
// "csclr-webhook" that passes once a certificate is being served.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return err
	}
	log := mgr.GetLogger().WithName("webhook")
	handler, err := NewHandler(opts.WithConfig, log)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("webhook: building a Kubernetes client: %w", err)
	}
	certs := newCertManager(opts, mgr.GetClient(), mgr.GetAPIReader(), log.WithName("certificates"))
	server := &tlsServer{addr: opts.addr(), handler: handler, certs: certs, log: log, drain: opts.DrainPeriod}

	for _, r := range []manager.Runnable{
		everyReplica(certs.run),
		everyReplica(func(ctx context.Context) error { return watchSecret(ctx, kube, opts, certs.secretChanged) }),
		everyReplica(server.run),
	} {
		if err := mgr.Add(r); err != nil {
			return fmt.Errorf("webhook: adding to the manager: %w", err)
		}
	}
	return mgr.AddReadyzCheck("csclr-webhook", func(*http.Request) error {
		if certs.current.Load() == nil {
			return errors.New("the webhook serving certificate is not loaded yet")
		}
		return nil
	})
}

// everyReplica is a manager runnable that does not wait for leader election.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

// watchSecret calls changed whenever the certificate Secret is added,
// updated or deleted. It watches that one Secret only, so the controller
// needs no cluster-wide access to Secrets.
func watchSecret(ctx context.Context, kube kubernetes.Interface, opts Options, changed func()) error {
	lw := cache.NewListWatchFromClient(kube.CoreV1().RESTClient(), "secrets", opts.Namespace,
		fields.OneTermEqualSelector("metadata.name", opts.SecretName))
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Secret{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { changed() },
			UpdateFunc: func(any, any) { changed() },
			DeleteFunc: func(any) { changed() },
		},
	})
	informer.RunWithContext(ctx)
	return nil
}
