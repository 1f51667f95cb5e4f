//go:build integration

package webhook

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"csclr.dev/csclr/internal/testenv"
)

// The webhook under test, shared by the integration tests: a real apiserver
// with config/core/500-webhooks.yaml installed (pointed at 127.0.0.1 by URL
// instead of the in-cluster Service) and SetupWithManager serving it.
var (
	env        *testenv.Env
	testScheme = testenv.NewScheme(clientgoscheme.AddToScheme, servingv1.AddToScheme)
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Suite{
		Scheme:     testScheme,
		Namespaces: []string{DefaultNamespace, "probe"},
		Setup: func(ctx context.Context, e *testenv.Env, mgr ctrl.Manager) error {
			env = e
			port, err := freePort()
			if err != nil {
				return err
			}
			if err := installWebhookConfigurations(ctx, "https://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
				return err
			}
			return SetupWithManager(mgr, Options{Host: "127.0.0.1", Port: port, ExtraHosts: []string{"127.0.0.1"}})
		},
		Ready: func(ctx context.Context) error { return waitForWebhook(ctx, "probe") },
	})
}

// installWebhookConfigurations applies the webhook configurations of
// config/core, with the apiserver calling baseURL instead of the Service.
func installWebhookConfigurations(ctx context.Context, baseURL string) error {
	raw, err := os.ReadFile("../../config/core/500-webhooks.yaml")
	if err != nil {
		return err
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return err
		}
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict([]byte(doc), cfg); err != nil {
				return err
			}
			for i := range cfg.Webhooks {
				cfg.Webhooks[i].ClientConfig = byURL(baseURL, cfg.Webhooks[i].ClientConfig)
			}
			if err := env.Client.Create(ctx, cfg); err != nil {
				return err
			}
		case "ValidatingWebhookConfiguration":
			cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict([]byte(doc), cfg); err != nil {
				return err
			}
			for i := range cfg.Webhooks {
				cfg.Webhooks[i].ClientConfig = byURL(baseURL, cfg.Webhooks[i].ClientConfig)
			}
			if err := env.Client.Create(ctx, cfg); err != nil {
				return err
			}
		}
	}
	return nil
}

func byURL(baseURL string, cc admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.WebhookClientConfig {
	u := baseURL + *cc.Service.Path
	return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: cc.CABundle}
}

// waitForWebhook waits until the apiserver trusts and calls the webhook:
// a dry-run create of an invalid Service is denied by it.
func waitForWebhook(ctx context.Context, namespace string) error {
	invalid := service("probe", nil, templateSpec(""))
	invalid.Namespace = namespace
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		err = env.Client.Create(ctx, invalid.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), `admission webhook "validation.webhook.csclr.dev" denied the request`) {
			return nil
		}
	}
	return fmt.Errorf("the webhook did not start denying invalid Services within a minute; last answer: %v", err)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "wh-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// clientAs is a client that acts as user (with cluster-admin rights, so
// that only the user name differs).
func clientAs(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters"}}
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// whoAmI is the user name the apiserver sees for c.
func whoAmI(t *testing.T, c client.Client) string {
	t.Helper()
	r := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r.Status.UserInfo.Username
}
