package revision

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DigestResolver turns an image reference into a digest reference
// ("registry/repo@sha256:..."). It returns "" without error when the image's
// registry is in skip (Knative's registries-skipping-tag-resolving). pull
// names the Secrets that hold the registry credentials.
type DigestResolver interface {
	Resolve(ctx context.Context, image string, pull PullSecrets, skip sets.Set[string]) (string, error)
}

// RegistryResolver asks the image's registry with a HEAD request (no image
// is pulled). Like Knative's k8schain it authenticates with the first of:
// the credentials for the registry in the revision's and its service
// account's image pull secrets, the controller's own docker config
// (authn.DefaultKeychain), anonymous.
type RegistryResolver struct {
	// Transport carries registry requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Reader reads ServiceAccounts and pull Secrets. It should be the
	// manager's API reader: through the cache the controller would watch
	// and hold every Secret in the cluster. nil reads none.
	Reader client.Reader
}

// Resolve implements DigestResolver.
func (r RegistryResolver) Resolve(ctx context.Context, image string, pull PullSecrets, skip sets.Set[string]) (string, error) {
	var opts []name.Option
	if isLoopbackRegistry(image) {
		// Local development registries serve plain HTTP.
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(image, opts...)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid reference: %w", image, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d.String(), nil
	}
	if skip.Has(ref.Context().RegistryStr()) {
		return "", nil
	}
	// Secrets are read only now, for an image the registry must be asked
	// about, and on every attempt, so a fixed secret applies at the retry.
	secrets := &pullKeychain{}
	if r.Reader != nil {
		s, err := readPullSecrets(ctx, r.Reader, pull)
		if err == nil {
			secrets, err = newPullKeychain(s)
		}
		if err != nil {
			return "", err
		}
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.NewMultiKeychain(secrets, authn.DefaultKeychain)),
	}
	if r.Transport != nil {
		ropts = append(ropts, remote.WithTransport(r.Transport))
	}
	desc, err := remote.Head(ref, ropts...)
	if err != nil {
		return "", explainDenied(err, ref.Context(), secrets, pull)
	}
	return ref.Context().Digest(desc.Digest.String()).String(), nil
}

// explainDenied adds to a registry's 401 or 403 which credentials were
// sent, since that is what the revision's owner has to fix.
func explainDenied(err error, repo name.Repository, secrets *pullKeychain, pull PullSecrets) error {
	var terr *transport.Error
	if !errors.As(err, &terr) || (terr.StatusCode != http.StatusUnauthorized && terr.StatusCode != http.StatusForbidden) {
		return err
	}
	answer := err.Error()
	if terr.Request != nil && terr.Request.Method == http.MethodHead && len(terr.Errors) == 0 {
		// The status is all a HEAD answer says; go-containerregistry's
		// text adds advice meant for programmers.
		answer = fmt.Sprintf("registry %s answered %d %s", repo.RegistryStr(), terr.StatusCode, http.StatusText(terr.StatusCode))
	}
	hint := fmt.Sprintf("no image pull secret of the revision or of service account %s/%s has credentials for %s",
		pull.Namespace, pull.serviceAccount(), repo.RegistryStr())
	if c, ok := secrets.lookup(repo); ok {
		hint = fmt.Sprintf("it was sent the credentials of image pull secret %s/%s", pull.Namespace, c.secret)
	}
	return deniedError{err: err, msg: answer + ": " + hint}
}

// deniedError rewords a registry's refusal and keeps the original for
// errors.As.
type deniedError struct {
	err error
	msg string
}

func (e deniedError) Error() string { return e.msg }
func (e deniedError) Unwrap() error { return e.err }

func isLoopbackRegistry(image string) bool {
	host, _, _ := strings.Cut(image, "/")
	h, _, hasPort := strings.Cut(host, ":")
	return hasPort && (h == "localhost" || h == "127.0.0.1")
}
