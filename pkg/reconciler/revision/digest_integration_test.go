//go:build integration

package revision_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/reconciler/revision"
)

// TestDigestWithPullSecrets resolves tags on a registry that demands basic
// auth, with the credentials of pull secrets read from the apiserver.
func TestDigestWithPullSecrets(t *testing.T) {
	ctx := context.Background()
	tag, digest := revision.PushRandomImage(t, "puller", "s3cret")
	host, _, _ := strings.Cut(tag, "/")
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))
	createSecret := func(t *testing.T, s *corev1.Secret) {
		t.Helper()
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	wantDigest := func(t *testing.T, rev *v1.Revision) {
		t.Helper()
		want := strings.TrimSuffix(tag, ":v1") + "@" + digest
		eventually(t, "digest in status", func() string {
			got := &v1.Revision{}
			if err := get(t, rev.Namespace, rev.Name, got); err != nil {
				return err.Error()
			}
			if s := got.Status.ContainerStatuses; len(s) != 1 || s[0].ImageDigest != want {
				return fmt.Sprintf("containerStatuses = %+v, ContainerHealthy = %+v", s, got.Status.GetCondition(v1.RevisionConditionContainerHealthy))
			}
			return ""
		})
	}

	t.Run("the revision's pull secret", func(t *testing.T) {
		ns := newNamespace(t)
		createSecret(t, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: ns},
			Type:       corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(
				`{"auths":{"http://` + host + `/v2/":{"auth":"` + auth + `"}}}`)},
		})
		// A secret that does not exist is skipped, as the kubelet does.
		wantDigest(t, newRevisionPulling(t, ns, tag, "not-there", "regcred"))
	})

	t.Run("the service account's pull secret", func(t *testing.T) {
		ns := newNamespace(t)
		createSecret(t, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: ns},
			Type:       corev1.SecretTypeDockercfg,
			Data: map[string][]byte{corev1.DockerConfigKey: []byte(
				`{"` + host + `":{"username":"puller","password":"s3cret"}}`)},
		})
		sa := &corev1.ServiceAccount{}
		if err := get(t, ns, "default", sa); err != nil {
			t.Fatal(err)
		}
		sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "legacy"}}
		if err := k8s.Update(ctx, sa); err != nil {
			t.Fatal(err)
		}
		wantDigest(t, newRevisionPulling(t, ns, tag))
	})

	t.Run("no credentials", func(t *testing.T) {
		rev := newRevisionPulling(t, newNamespace(t), tag)
		eventually(t, "ContainerMissing", func() string {
			return condition(t, rev, v1.RevisionConditionContainerHealthy, corev1.ConditionFalse, v1.ReasonContainerMissing)
		})
		got := &v1.Revision{}
		if err := get(t, rev.Namespace, rev.Name, got); err != nil {
			t.Fatal(err)
		}
		msg := got.Status.GetCondition(v1.RevisionConditionContainerHealthy).Message
		for _, want := range []string{
			fmt.Sprintf("%q", tag),
			"registry " + host + " answered 401 Unauthorized",
			"no image pull secret of the revision or of service account " + rev.Namespace + "/default has credentials for " + host,
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q does not say %q", msg, want)
			}
		}
		if len(got.Status.ContainerStatuses) != 0 {
			t.Errorf("containerStatuses = %+v, want none", got.Status.ContainerStatuses)
		}
	})
}

// newRevisionPulling creates a defaulted Revision of image whose pod spec
// names the pull secrets; they must exist before the first reconcile, so
// the revision is created with them.
func newRevisionPulling(t *testing.T, ns, image string, pullSecrets ...string) *v1.Revision {
	t.Helper()
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: "pull-00001", Namespace: ns, Labels: map[string]string{
			serving.ConfigurationLabelKey: "pull", serving.ServiceLabelKey: "pull",
			serving.ConfigurationGenerationLabelKey: "1",
		}},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Image: image, Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}}},
	}
	for _, s := range pullSecrets {
		rev.Spec.ImagePullSecrets = append(rev.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	rev.SetDefaults(context.Background())
	if err := k8s.Create(context.Background(), rev); err != nil {
		t.Fatalf("creating revision: %v", err)
	}
	return rev
}
