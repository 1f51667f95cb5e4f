//go:build integration

package controller_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// config-network's domain-template and tag-template and config-domain's
// domain shape every URL in a Route's status and every Ingress host, as in
// Knative: the tag template names the tag's route, which the domain
// template then places under the domain.
func TestDomainAndTagTemplates(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "tpl")
	configMap(t, "config-domain", map[string]string{"example.org": ""})
	configMap(t, "config-network", map[string]string{
		"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}",
		"tag-template":    "{{.Name}}-at-{{.Tag}}",
	})
	svc := twoRevisions(t, ns, "tpl")
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{
			{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
			{Tag: "old", RevisionName: "tpl-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0)},
		}
	})
	mainHost, tagHost := "tpl-"+ns+".example.org", "tpl-at-old-"+ns+".example.org"
	want := []v1.TrafficTarget{
		{RevisionName: "tpl-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
		{Tag: "old", RevisionName: "tpl-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0),
			URL: &apis.URL{Scheme: "http", Host: tagHost}},
	}
	eventually(t, "the templates in the status", func() error {
		s := waitServiceCondition(t, ns, "tpl", apis.ConditionReady, corev1.ConditionTrue, "")
		if diff := cmp.Diff(want, s.Status.Traffic); diff != "" {
			return fmt.Errorf("status.traffic (-want +got):\n%s", diff)
		}
		if got := s.Status.URL.String(); got != "http://"+mainHost {
			return fmt.Errorf("url = %s, want http://%s", got, mainHost)
		}
		// The in-cluster address keeps Knative's fixed form.
		if got := s.Status.Address.URL.String(); got != "http://tpl."+ns+".svc.cluster.local" {
			return fmt.Errorf("address = %s", got)
		}
		return nil
	})
	eventually(t, "the templates in the Ingress", func() error {
		ing := get(t, ns, "tpl", &networkingv1.Ingress{})
		var hosts []string
		for _, r := range ing.Spec.Rules {
			hosts = append(hosts, r.Host)
		}
		slices.Sort(hosts)
		if wantHosts := []string{tagHost, mainHost}; !slices.Equal(hosts, wantHosts) {
			return fmt.Errorf("Ingress hosts %v, want %v", hosts, wantHosts)
		}
		return nil
	})
}
