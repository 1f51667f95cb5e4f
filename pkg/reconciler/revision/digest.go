package revision

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/util/sets"
)

// DigestResolver turns an image reference into a digest reference
// ("registry/repo@sha256:..."). It returns "" without error when the image's
// registry is in skip (Knative's registries-skipping-tag-resolving).
type DigestResolver interface {
	Resolve(ctx context.Context, image string, skip sets.Set[string]) (string, error)
}

// RegistryResolver asks the image's registry with a HEAD request (no image
// is pulled). Credentials come from the controller's default keychain
// (docker config); image pull secrets are not consulted.
type RegistryResolver struct {
	// Transport carries registry requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
}

// Resolve implements DigestResolver.
func (r RegistryResolver) Resolve(ctx context.Context, image string, skip sets.Set[string]) (string, error) {
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
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if r.Transport != nil {
		ropts = append(ropts, remote.WithTransport(r.Transport))
	}
	desc, err := remote.Head(ref, ropts...)
	if err != nil {
		return "", err
	}
	return ref.Context().Digest(desc.Digest.String()).String(), nil
}

func isLoopbackRegistry(image string) bool {
	host, _, _ := strings.Cut(image, "/")
	h, _, hasPort := strings.Cut(host, ":")
	return hasPort && (h == "localhost" || h == "127.0.0.1")
}
