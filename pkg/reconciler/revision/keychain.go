package revision

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PullSecrets names the Secrets whose registry credentials a revision's pods
// pull with: the pod spec's imagePullSecrets, then those of its service
// account, all in the revision's namespace. Digest resolution uses the same
// ones so that it sees what the kubelet will see.
type PullSecrets struct {
	Namespace string
	// ServiceAccountName "" means "default", as for pods.
	ServiceAccountName string
	ImagePullSecrets   []corev1.LocalObjectReference
}

// PullSecretsOf is where the credentials for rev's images come from.
func PullSecretsOf(rev *v1.Revision) PullSecrets {
	return PullSecrets{
		Namespace:          rev.Namespace,
		ServiceAccountName: rev.Spec.ServiceAccountName,
		ImagePullSecrets:   rev.Spec.ImagePullSecrets,
	}
}

func (p PullSecrets) serviceAccount() string {
	if p.ServiceAccountName == "" {
		return "default"
	}
	return p.ServiceAccountName
}

// readPullSecrets reads the Secrets p names, the pod spec's first. Like the
// kubelet (and Knative), a missing service account or Secret is skipped:
// the image may well be public. Any other error (say, RBAC) is returned,
// because resolving anonymously would hide it behind a misleading 401.
func readPullSecrets(ctx context.Context, reader client.Reader, p PullSecrets) ([]corev1.Secret, error) {
	names := make([]string, 0, len(p.ImagePullSecrets))
	for _, s := range p.ImagePullSecrets {
		names = append(names, s.Name)
	}
	sa := &corev1.ServiceAccount{}
	err := reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.serviceAccount()}, sa)
	switch {
	case err == nil:
		for _, s := range sa.ImagePullSecrets {
			names = append(names, s.Name)
		}
	case !apierrs.IsNotFound(err):
		return nil, fmt.Errorf("reading service account %s/%s for its imagePullSecrets: %w", p.Namespace, p.serviceAccount(), err)
	}
	seen := make(map[string]bool, len(names))
	var secrets []corev1.Secret
	for _, name := range names {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		s := corev1.Secret{}
		err := reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, &s)
		if apierrs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading image pull secret %s/%s: %w", p.Namespace, name, err)
		}
		secrets = append(secrets, s)
	}
	return secrets, nil
}

// pullKeychain is an authn.Keychain over the credentials in image pull
// secrets. Registries it has no credentials for resolve to
// authn.Anonymous, so it composes with authn.NewMultiKeychain.
type pullKeychain struct {
	creds []credential // in the order the secrets were given
}

// credential is one entry of a docker config: the registry host (and
// optional repository path prefix) it is for, and what to send.
type credential struct {
	secret string // the Secret it came from, for error messages
	host   string // lower-case host[:port]; labels may be globs ("*.example.com")
	path   string // repository prefix without slashes at the ends; "" is the whole registry
	auth   authn.AuthConfig
}

// newPullKeychain reads the docker configs of secrets. Secrets of other
// types are ignored, as the kubelet does; a malformed one is an error that
// names it, since its owner meant it to work.
func newPullKeychain(secrets []corev1.Secret) (*pullKeychain, error) {
	kc := &pullKeychain{}
	for _, s := range secrets {
		var auths map[string]json.RawMessage
		switch s.Type {
		case corev1.SecretTypeDockerConfigJson:
			var cfg struct {
				Auths map[string]json.RawMessage `json:"auths"`
			}
			if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
				return nil, fmt.Errorf("image pull secret %s/%s: %s is not a docker config: %w", s.Namespace, s.Name, corev1.DockerConfigJsonKey, err)
			}
			auths = cfg.Auths
		case corev1.SecretTypeDockercfg:
			// The legacy format is the auths map itself.
			if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
				return nil, fmt.Errorf("image pull secret %s/%s: %s is not a docker config: %w", s.Namespace, s.Name, corev1.DockerConfigKey, err)
			}
		default:
			continue
		}
		// Sorted, so that two keys for the same registry (docker.io and
		// https://index.docker.io/v1/) pick the same one every time.
		keys := make([]string, 0, len(auths))
		for k := range auths {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			host, repo, ok := parseRegistryKey(key)
			if !ok {
				continue
			}
			// AuthConfig's own decoding splits "auth" (base64 user:pass)
			// into Username and Password, overriding them as docker does.
			var a authn.AuthConfig
			if err := json.Unmarshal(auths[key], &a); err != nil {
				return nil, fmt.Errorf("image pull secret %s/%s: entry %q: %w", s.Namespace, s.Name, key, err)
			}
			if a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "" {
				continue // e.g. only an email: nothing to authenticate with
			}
			kc.creds = append(kc.creds, credential{secret: s.Name, host: host, path: repo, auth: a})
		}
	}
	return kc, nil
}

// dockerHubHosts are the names docker configs use for Docker Hub;
// go-containerregistry calls it index.docker.io.
var dockerHubHosts = map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true}

// parseRegistryKey splits a docker config key ("registry.example.com",
// "registry.example.com:5000/team", "https://index.docker.io/v1/") into
// host and repository prefix. A scheme and docker's /v1/ or /v2/ API
// path mean the whole registry.
func parseRegistryKey(key string) (host, repo string, ok bool) {
	key = strings.TrimSpace(key)
	if _, rest, found := strings.Cut(key, "://"); found {
		key = rest
	}
	host, repo, _ = strings.Cut(key, "/")
	repo = strings.Trim(repo, "/")
	if repo == "v1" || repo == "v2" || strings.HasPrefix(repo, "v1/") || strings.HasPrefix(repo, "v2/") {
		repo = strings.Trim(repo[2:], "/")
	}
	host = strings.ToLower(host)
	if dockerHubHosts[host] {
		host = "index.docker.io"
	}
	return host, repo, host != ""
}

// Resolve implements authn.Keychain.
func (kc *pullKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if c, ok := kc.lookup(target); ok {
		return authn.FromConfig(c.auth), nil
	}
	return authn.Anonymous, nil
}

// lookup finds the credential for target (a registry or repository): the
// one with the longest matching repository prefix, an exact host before a
// glob, then the first given (so a pod spec's secret wins over its
// service account's), which is how the kubelet chooses.
func (kc *pullKeychain) lookup(target authn.Resource) (credential, bool) {
	host := strings.ToLower(target.RegistryStr())
	repo := ""
	if s := target.String(); strings.HasPrefix(s, target.RegistryStr()+"/") {
		repo = s[len(target.RegistryStr())+1:]
	}
	var best credential
	found := false
	for _, c := range kc.creds {
		if !hostMatches(c.host, host) || !(c.path == "" || repo == c.path || strings.HasPrefix(repo, c.path+"/")) {
			continue
		}
		if !found || len(c.path) > len(best.path) ||
			len(c.path) == len(best.path) && isGlob(best.host) && !isGlob(c.host) {
			best, found = c, true
		}
	}
	return best, found
}

func isGlob(host string) bool { return strings.ContainsAny(host, "*?[") }

// hostMatches compares a credential's host with the image's. Ports must be
// equal; a glob matches one DNS label per label, so *.example.com covers
// a.example.com but neither example.com nor a.b.example.com.
func hostMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	if !isGlob(pattern) {
		return false
	}
	pname, pport, _ := strings.Cut(pattern, ":")
	hname, hport, _ := strings.Cut(host, ":")
	plabels, hlabels := strings.Split(pname, "."), strings.Split(hname, ".")
	if pport != hport || len(plabels) != len(hlabels) {
		return false
	}
	for i := range plabels {
		if ok, err := path.Match(plabels[i], hlabels[i]); err != nil || !ok {
			return false
		}
	}
	return true
}
