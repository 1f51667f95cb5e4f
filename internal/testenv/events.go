package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WantEvent is an event a test expects about an object: its type, reason,
// and words its note contains.
type WantEvent struct {
	Type, Reason string
	Note         []string
}

func (w WantEvent) String() string {
	return fmt.Sprintf("%s %s %q", w.Type, w.Reason, w.Note)
}

func (w WantEvent) matches(e *eventsv1.Event) bool {
	if e.Type != w.Type || e.Reason != w.Reason {
		return false
	}
	for _, part := range w.Note {
		if !strings.Contains(e.Note, part) {
			return false
		}
	}
	return true
}

// EventsAbout lists the events.k8s.io/v1 Events whose regarding object is
// obj (matched by UID: obj must have been read from the apiserver).
func EventsAbout(ctx context.Context, c client.Reader, obj client.Object) ([]eventsv1.Event, error) {
	if obj.GetUID() == "" {
		return nil, fmt.Errorf("%T %s/%s has no UID: read it first", obj, obj.GetNamespace(), obj.GetName())
	}
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() {
			out = append(out, e)
		}
	}
	return out, nil
}

// WaitEvent waits, at most timeout, for an event about obj as wanted and
// returns it; the test fails naming the events it saw instead. obj is read
// first when it has no UID.
func WaitEvent(t testing.TB, c client.Client, obj client.Object, want WantEvent, timeout time.Duration) eventsv1.Event {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var seen []eventsv1.Event
	var err error
	for {
		if obj.GetUID() == "" {
			err = c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		}
		if err == nil {
			seen, err = EventsAbout(ctx, c, obj)
		}
		for i := range seen {
			if want.matches(&seen[i]) {
				return seen[i]
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var got []string
	for _, e := range seen {
		got = append(got, fmt.Sprintf("%s %s %q", e.Type, e.Reason, e.Note))
	}
	t.Fatalf("no event %s about %T %s/%s within %s (error: %v); its events: %q",
		want, obj, obj.GetNamespace(), obj.GetName(), timeout, err, got)
	return eventsv1.Event{}
}

// Warnings lists the Warning events in namespace ns that the controllers
// reported (all of them when none is named), as "Kind/name Reason: note".
// The apiserver reports some of its own (a Service's ClusterIP repaired).
func Warnings(ctx context.Context, c client.Reader, ns string, controllers ...string) ([]string, error) {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range list.Items {
		if e.Type == corev1.EventTypeWarning && (len(controllers) == 0 || slices.Contains(controllers, e.ReportingController)) {
			out = append(out, fmt.Sprintf("%s/%s %s: %s", e.Regarding.Kind, e.Regarding.Name, e.Reason, e.Note))
		}
	}
	return out, nil
}

// ExemptUser is the user Refuse lets through; Exempt is a client acting as
// it.
const ExemptUser = "csclr-test-exempt"

// Exempt returns a client on the env's apiserver that impersonates
// ExemptUser (in system:masters), for a test's own writes of what Refuse
// refuses the code under test.
func (e *Env) Exempt() (client.Client, error) {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: ExemptUser, Groups: []string{"system:masters", "system:authenticated"}}
	return client.New(cfg, client.Options{Scheme: e.Scheme})
}

// refusalProbe is the ConfigMap every refusal also refuses to create, so
// that Refuse knows when the apiserver applies it.
const refusalProbe = "csclr-refusal-probe"

// Refuse makes the apiserver refuse the operations on the resources (in
// API group group, e.g. "" or "serving.knative.dev"; a resource may be a
// subresource, "routes/status") in namespace ns to every user but
// ExemptUser, as an admission webhook refusing them would, until the test
// ends. It returns once the refusal applies. It uses a
// ValidatingAdmissionPolicy, so the apiserver needs nothing else.
func Refuse(t testing.TB, c client.Client, ns, group string, resources []string, ops ...admissionregistrationv1.OperationType) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("csclr-test-refuse-%s-%d", ns, time.Now().UnixNano())
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
					rule(group, resources, ops),
					rule("", []string{"configmaps"}, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}),
				},
			},
			MatchConditions: []admissionregistrationv1.MatchCondition{{
				Name:       "not-exempt",
				Expression: fmt.Sprintf("request.userInfo.username != %q && (request.resource.resource != 'configmaps' || request.name == %q)", ExemptUser, refusalProbe),
			}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "false",
				Message:    "refused by the test's admission policy " + name,
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: ns},
			}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating the refusal %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		_ = c.Delete(ctx, binding)
		_ = c.Delete(ctx, policy)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: refusalProbe}}
		err := c.Create(ctx, probe, client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), name) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refusal %s does not apply after 30s (probe: %v)", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rule(group string, resources []string, ops []admissionregistrationv1.OperationType) admissionregistrationv1.NamedRuleWithOperations {
	return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: ops,
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources,
		},
	}}
}
