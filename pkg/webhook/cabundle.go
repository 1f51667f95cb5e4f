package webhook

import (
	"bytes"
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// patchCABundles makes every webhook in the two named configurations trust
// bundle. Reads bypass the manager's cache so that the controller needs no
// cluster-wide watch on webhook configurations.
func patchCABundles(ctx context.Context, c client.Client, reader client.Reader, mutating, validating string, bundle []byte) error {
	err := setCABundles(ctx, c, reader, &admissionregistrationv1.MutatingWebhookConfiguration{}, "MutatingWebhookConfiguration", mutating, bundle,
		func(cfg *admissionregistrationv1.MutatingWebhookConfiguration) (ccs []*admissionregistrationv1.WebhookClientConfig) {
			for i := range cfg.Webhooks {
				ccs = append(ccs, &cfg.Webhooks[i].ClientConfig)
			}
			return ccs
		})
	if err != nil {
		return err
	}
	return setCABundles(ctx, c, reader, &admissionregistrationv1.ValidatingWebhookConfiguration{}, "ValidatingWebhookConfiguration", validating, bundle,
		func(cfg *admissionregistrationv1.ValidatingWebhookConfiguration) (ccs []*admissionregistrationv1.WebhookClientConfig) {
			for i := range cfg.Webhooks {
				ccs = append(ccs, &cfg.Webhooks[i].ClientConfig)
			}
			return ccs
		})
}

// setCABundles updates the caBundle of every client config of the named
// webhook configuration, if any differs.
func setCABundles[T client.Object](ctx context.Context, c client.Client, reader client.Reader, cfg T, kind, name string, bundle []byte,
	clientConfigs func(T) []*admissionregistrationv1.WebhookClientConfig) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := reader.Get(ctx, client.ObjectKey{Name: name}, cfg); err != nil {
			return err
		}
		changed := false
		for _, cc := range clientConfigs(cfg) {
			if !bytes.Equal(cc.CABundle, bundle) {
				cc.CABundle = bundle
				changed = true
			}
		}
		if !changed {
			return nil
		}
		return c.Update(ctx, cfg)
	})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("setting caBundle: %s %q not found: apply config/core/500-webhooks.yaml or fix the webhook options", kind, name)
	default:
		return fmt.Errorf("setting caBundle on %s %q: %w (the controller needs get and update on it)", kind, name, err)
	}
}
