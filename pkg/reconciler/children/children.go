// Package children is what the reconcilers share about reading and creating
// the objects they own when the manager's cache holds only the objects that
// carry csclr's labels (controller.CacheOptions).
//
// A child whose label a user removed or changed, or that an older csclr
// created without it, is not in such a cache: reading it there says
// NotFound, and creating it again fails with AlreadyExists, at every
// reconcile. CreateOrRead turns that AlreadyExists into the object as the API
// server has it, so that the reconciler goes on as if the cache had returned
// it: it reports a child it does not control as not owned, and updates its
// own child back to the desired state, labels included, which brings it back
// into the cache.
package children

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CreateOrRead creates desired through c, after a read from the cache found
// nothing under its name. If the name is taken it reads the object that
// holds it through reader (the manager's uncached API reader) into existing,
// an empty object of desired's type, and returns created false: the caller
// then checks that it controls existing and updates it. An error from the
// create other than AlreadyExists, or from the read, is returned as is (the
// object may have been deleted in between: the next reconcile creates it).
func CreateOrRead(ctx context.Context, c client.Writer, reader client.Reader, desired, existing client.Object) (created bool, err error) {
	err = c.Create(ctx, desired)
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	if rerr := reader.Get(ctx, client.ObjectKeyFromObject(desired), existing); rerr != nil {
		return false, fmt.Errorf("%w, and reading it without the cache: %w", err, rerr)
	}
	return false, nil
}

// Get reads key into obj from the cache and, when the cache has no such
// object and one may exist (mayExist: the owner has written it before), from
// reader (the manager's uncached API reader). It is for a child whose
// content the reconciler needs before it writes it (state kept in its
// labels or annotations), which a label removed by a user must not lose. It
// costs an API request only while such a child is missing from the cache.
func Get(ctx context.Context, cached, reader client.Reader, key client.ObjectKey, obj client.Object, mayExist bool) error {
	err := cached.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && mayExist {
		return reader.Get(ctx, key, obj)
	}
	return err
}
