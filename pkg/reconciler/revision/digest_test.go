package revision

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"csclr.dev/csclr/pkg/config"
)

// pushRandomImage starts an in-process registry with one image and returns
// the image's tag reference and digest. With a user, the registry answers
// only requests with that user and password (HTTP basic auth), as a
// private registry does.
func pushRandomImage(t *testing.T, user, password string) (string, string) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if user != "" {
		h = requireBasicAuth(user, password, h)
	}
	srv := httptest.NewServer(h)
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
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag, d.String()
}

// requireBasicAuth answers 401 with a basic challenge, as registries do,
// to a request without the user and password.
func requireBasicAuth(user, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestRegistryResolver(t *testing.T) {
	tag, digest := pushRandomImage(t, "", "")
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

// A registry added to registries-skipping-tag-resolving (config-deployment)
// is not asked: a tag it does not even have is left as it is.
func TestConfiguredRegistrySkipped(t *testing.T) {
	tag, _ := pushRandomImage(t, "", "")
	repo := strings.TrimSuffix(tag, ":v1")
	c, err := config.Default().Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.DeploymentName},
		Data: map[string]string{"registries-skipping-tag-resolving": "kind.local," + strings.SplitN(repo, "/", 2)[0]}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := RegistryResolver{}.Resolve(context.Background(), repo+":nope", PullSecrets{}, c.Deployment.RegistriesSkippingTagResolving)
	if err != nil || got != "" {
		t.Errorf("Resolve of a skipped registry's tag = %q, %v; want it left unresolved", got, err)
	}
}

func TestRegistryResolverPullSecrets(t *testing.T) {
	tag, digest := pushRandomImage(t, "puller", "s3cret")
	want := strings.TrimSuffix(tag, ":v1") + "@" + digest
	host, _, _ := strings.Cut(tag, "/")
	creds := func(name, user, pass string) *corev1.Secret {
		s := dockerConfigJSON(name, `{"http://`+host+`/v2/": {"auth": "`+basicAuth(user, pass)+`"}}`)
		return &s
	}
	reader := fake.NewClientBuilder().WithObjects(
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-creds"}, {Name: "gone"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "ns"}},
		creds("sa-creds", "puller", "s3cret"),
		creds("pod-creds", "puller", "s3cret"),
		creds("wrong", "puller", "guess"),
	).Build()
	pods := func(names ...string) []corev1.LocalObjectReference {
		var refs []corev1.LocalObjectReference
		for _, n := range names {
			refs = append(refs, corev1.LocalObjectReference{Name: n})
		}
		return refs
	}
	for _, tc := range []struct {
		name    string
		pull    PullSecrets
		wantErr string // "" means the digest
	}{
		{"the pod spec's secret", PullSecrets{Namespace: "ns", ServiceAccountName: "plain", ImagePullSecrets: pods("pod-creds")}, ""},
		{"the default service account's secret", PullSecrets{Namespace: "ns"}, ""},
		{"missing secrets and service account are skipped", PullSecrets{Namespace: "ns", ServiceAccountName: "nobody", ImagePullSecrets: pods("gone", "pod-creds")}, ""},
		{"the pod spec's secret comes first", PullSecrets{Namespace: "ns", ImagePullSecrets: pods("wrong")},
			"registry " + host + " answered 401 Unauthorized: it was sent the credentials of image pull secret ns/wrong"},
		{"no credentials", PullSecrets{Namespace: "ns", ServiceAccountName: "plain"},
			"registry " + host + " answered 401 Unauthorized: no image pull secret of the revision or of service account ns/plain has credentials for " + host},
	} {
		got, err := RegistryResolver{Reader: reader}.Resolve(context.Background(), tag, tc.pull, nil)
		switch {
		case tc.wantErr == "" && (err != nil || got != want):
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, want)
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("%s: got %q, %v; want the error %q", tc.name, got, err, tc.wantErr)
		case tc.wantErr != "" && !errors.As(err, new(*transport.Error)):
			t.Errorf("%s: %v does not wrap the registry's error", tc.name, err)
		}
	}

	// An API error other than NotFound is the controller's problem (RBAC,
	// say) and must not pass for an anonymous 401.
	forbidden := forbiddenReader{}
	if _, err := (RegistryResolver{Reader: forbidden}).Resolve(context.Background(), tag, PullSecrets{Namespace: "ns"}, nil); err == nil ||
		!strings.Contains(err.Error(), "reading service account ns/default") || !apierrs.IsForbidden(err) {
		t.Errorf("forbidden service account: got %v", err)
	}
	// Images the registry is not asked about read no secrets.
	if got, err := (RegistryResolver{Reader: forbidden}).Resolve(context.Background(), "kind.local/hello:v1", PullSecrets{}, sets.New("kind.local")); got != "" || err != nil {
		t.Errorf("skipped registry read pull secrets: %q, %v", got, err)
	}
}

type forbiddenReader struct{ client.Reader }

func (forbiddenReader) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrs.NewForbidden(corev1.Resource("serviceaccounts"), key.Name, errors.New("RBAC says no"))
}
