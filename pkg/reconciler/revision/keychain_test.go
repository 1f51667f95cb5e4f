package revision

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func dockerConfigJSON(name, auths string) corev1.Secret {
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":` + auths + `}`)},
	}
}

func dockercfg(name, auths string) corev1.Secret {
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Type:       corev1.SecretTypeDockercfg,
		Data:       map[string][]byte{corev1.DockerConfigKey: []byte(auths)},
	}
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// resolve returns what kc sends for image: "user:pass", "token:..." or
// "anonymous".
func resolve(t *testing.T, kc authn.Keychain, image string) string {
	t.Helper()
	ref, err := name.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kc.Resolve(ref.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a == authn.Anonymous {
		return "anonymous"
	}
	c, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if c.IdentityToken != "" {
		return "token:" + c.IdentityToken
	}
	return c.Username + ":" + c.Password
}

func TestPullKeychainFormats(t *testing.T) {
	kc, err := newPullKeychain([]corev1.Secret{
		dockerConfigJSON("json", `{
			"auth.example": {"auth": "`+basicAuth("a", "pa:ss")+`"},
			"userpass.example": {"username": "u", "password": "p"},
			"both.example": {"username": "ignored", "password": "ignored", "auth": "`+basicAuth("b", "q")+`"},
			"unpadded.example": {"auth": "`+strings.TrimRight(basicAuth("c", "xy"), "=")+`"},
			"token.example": {"identitytoken": "tok"},
			"email-only.example": {"email": "x@example.com"}
		}`),
		dockercfg("cfg", `{"legacy.example": {"auth": "`+basicAuth("l", "m")+`"}}`),
		{ObjectMeta: metav1.ObjectMeta{Name: "opaque"}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"opaque.example":{"auth":"` + basicAuth("o", "o") + `"}}}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]string{
		"auth.example/app:v1":       "a:pa:ss", // the password may hold colons
		"userpass.example/app:v1":   "u:p",
		"both.example/app:v1":       "b:q", // auth wins, as in docker
		"unpadded.example/app:v1":   "c:xy",
		"token.example/app:v1":      "token:tok",
		"email-only.example/app:v1": "anonymous",
		"legacy.example/app:v1":     "l:m",
		"opaque.example/app:v1":     "anonymous", // only docker config types count, as for the kubelet
		"other.example/app:v1":      "anonymous",
	} {
		if got := resolve(t, kc, image); got != want {
			t.Errorf("%s: got %s, want %s", image, got, want)
		}
	}
}

func TestPullKeychainHostMatching(t *testing.T) {
	kc, err := newPullKeychain([]corev1.Secret{
		dockerConfigJSON("pod", `{
			"https://index.docker.io/v1/": {"auth": "`+basicAuth("hub", "1")+`"},
			"https://registry.example:5000/v2/": {"auth": "`+basicAuth("port", "1")+`"},
			"registry.example/team": {"auth": "`+basicAuth("team", "1")+`"},
			"registry.example/team/special": {"auth": "`+basicAuth("special", "1")+`"},
			"*.glob.example": {"auth": "`+basicAuth("glob", "1")+`"},
			"exact.glob.example": {"auth": "`+basicAuth("exact", "1")+`"},
			"HTTP://Upper.Example/": {"auth": "`+basicAuth("upper", "1")+`"}
		}`),
		// The service account's secrets come after the pod spec's.
		dockerConfigJSON("sa", `{
			"registry.example": {"auth": "`+basicAuth("host", "1")+`"},
			"registry.example/team": {"auth": "`+basicAuth("sa-team", "1")+`"}
		}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]string{
		"ubuntu":                               "hub:1", // index.docker.io/library/ubuntu
		"docker.io/library/ubuntu:22.04":       "hub:1",
		"index.docker.io/someone/app":          "hub:1",
		"registry.example:5000/app:v1":         "port:1",
		"registry.example/app:v1":              "host:1", // port must match: not the :5000 entry
		"registry.example/team/app:v1":         "team:1", // a path beats the host alone; the pod spec's secret first
		"registry.example/team/special/app:v1": "special:1",
		"registry.example/teamx/app:v1":        "host:1", // the prefix is a whole path segment
		"a.glob.example/app":                   "glob:1",
		"exact.glob.example/app":               "exact:1", // an exact host beats a glob
		"a.b.glob.example/app":                 "anonymous",
		"glob.example/app":                     "anonymous",
		"upper.example/app":                    "upper:1",
		"registry.example:5001/app":            "anonymous",
	} {
		if got := resolve(t, kc, image); got != want {
			t.Errorf("%s: got %s, want %s", image, got, want)
		}
	}
}

func TestPullKeychainDockerHubAliases(t *testing.T) {
	for _, key := range []string{"docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "https://docker.io"} {
		kc, err := newPullKeychain([]corev1.Secret{dockerConfigJSON("hub", `{"`+key+`": {"auth": "`+basicAuth("u", "p")+`"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		if got := resolve(t, kc, "nginx:latest"); got != "u:p" {
			t.Errorf("key %q for nginx: got %s, want u:p", key, got)
		}
	}
}

func TestPullKeychainMalformed(t *testing.T) {
	for _, s := range []corev1.Secret{
		dockerConfigJSON("bad-json", `{`),
		dockercfg("bad-cfg", `[]`),
		dockerConfigJSON("bad-auth", `{"registry.example": {"auth": "!!!"}}`),
	} {
		_, err := newPullKeychain([]corev1.Secret{s})
		if err == nil || !strings.Contains(err.Error(), "ns/"+s.Name) {
			t.Errorf("secret %s: error %v, want one naming ns/%s", s.Name, err, s.Name)
		}
	}
}

func TestParseRegistryKey(t *testing.T) {
	for key, want := range map[string]string{
		"registry.example":                   "registry.example|",
		"registry.example:5000":              "registry.example:5000|",
		"https://registry.example/v2/":       "registry.example|",
		"http://registry.example/v1":         "registry.example|",
		"registry.example/team/app/":         "registry.example|team/app",
		"https://registry.example/v2/team":   "registry.example|team",
		"https://registry.example/v2team":    "registry.example|v2team",
		"https://index.docker.io/v1/":        "index.docker.io|",
		"  docker.io/library  ":              "index.docker.io|library",
		"https://registry-1.docker.io/v2/xy": "index.docker.io|xy",
	} {
		host, repo, ok := parseRegistryKey(key)
		if got := host + "|" + repo; !ok || got != want {
			t.Errorf("parseRegistryKey(%q) = %s, %v; want %s", key, got, ok, want)
		}
	}
	if _, _, ok := parseRegistryKey("https:///v2/"); ok {
		t.Error("a key without a host was accepted")
	}
}
