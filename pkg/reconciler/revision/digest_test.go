package revision

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/util/sets"
)

// pushRandomImage starts an in-process registry with one image and returns
// the image's tag reference and digest.
func pushRandomImage(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	tag := strings.TrimPrefix(srv.URL, "http://") + "/hello:v1"
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag, d.String()
}

func TestRegistryResolver(t *testing.T) {
	tag, digest := pushRandomImage(t)
	repo := strings.TrimSuffix(tag, ":v1")
	skip := sets.New("kind.local", "ko.local", "dev.local")
	for _, tc := range []struct {
		name, image, want string
		wantErr           bool
	}{
		{"tag resolves over plain http on 127.0.0.1", tag, repo + "@" + digest, false},
		{"digest stays", repo + "@" + digest, repo + "@" + digest, false},
		{"skipped registry", "kind.local/hello:v1", "", false},
		{"missing tag", repo + ":nope", "", true},
		{"invalid reference", "UPPER/case::x", "", true},
	} {
		got, err := RegistryResolver{}.Resolve(context.Background(), tc.image, PullSecrets{}, skip)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: Resolve(%q) = %q, %v; want %q, error %v", tc.name, tc.image, got, err, tc.want, tc.wantErr)
		}
	}
}
