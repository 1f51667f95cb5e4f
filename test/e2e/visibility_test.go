//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A cluster-local Service answers in the cluster only: the public gateway
// (csclr-gateway) does not know its host and it has no Ingress, while its
// apex Service does answer. Its traffic tag gets a Service of its own,
// whose ClusterIP answers with the tag's revision (from zero if need be);
// the cluster DNS resolves the Route's and the tag's URLs to those Services.
// Both Services answer a caller that names them by their IP alone, as a
// Kubernetes user trying a Service out would.
func TestClusterLocalServiceAndItsTag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-local")
	spec := ksvcSpec{name: "private", image: testImage(t), env: map[string]string{"MESSAGE": "v1"},
		labels: map[string]string{"networking.knative.dev/visibility": "cluster-local"}}
	host := applyKsvc(t, ctx, ns, spec)
	if want := "private." + ns + ".svc.cluster.local"; host != want {
		t.Fatalf("URL host %s, want %s", host, want)
	}
	spec.env = map[string]string{"MESSAGE": "v2"}
	spec.traffic = []any{
		map[string]any{"latestRevision": true, "percent": int64(100)},
		map[string]any{"revisionName": "private-00001", "tag": "old", "percent": int64(0)},
	}
	applyKsvc(t, ctx, ns, spec)

	if r, err := newClient(t, ctx, host, time.Minute).get(ctx, "/"); err != nil || r.status != http.StatusNotFound {
		t.Errorf("public gateway, host %s: %d %v; want 404", host, r.status, err)
	}
	if _, err := cluster.kube.NetworkingV1().Ingresses(ns).Get(ctx, "private", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cluster-local Route's Ingress: %v; want none", err)
	}
	for _, tc := range []struct{ service, host, body string }{
		{"private", host, "v2"},
		{"old-private", "old-private." + ns + ".svc.cluster.local", "v1"},
		{"private", "", "v2"}, // the Host is the Service's IP
		{"old-private", "", "v1"},
	} {
		svc, err := cluster.kube.CoreV1().Services(ns).Get(ctx, tc.service, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("Service %s: %v", tc.service, err)
		}
		if tc.host != "" {
			// The URL's host is what a pod's resolver asks the cluster DNS.
			if ips := clusterDNS(t, ctx, tc.host); !slices.Equal(ips, svc.Spec.ClusterIPs) {
				t.Errorf("the cluster DNS resolves %s to %v, want Service %s's %v", tc.host, ips, tc.service, svc.Spec.ClusterIPs)
			}
		}
		c := &client{gateway: svc.Spec.ClusterIP + ":80", host: tc.host, http: &http.Client{Timeout: 2 * time.Minute}}
		if r := c.mustGet(t, ctx, "/", http.StatusOK); strings.TrimSpace(r.body) != tc.body {
			t.Errorf("Service %s, host %s: %q, want %q", tc.service, tc.host, r.body, tc.body)
		}
	}
}

// clusterDNS resolves host's IPv4 addresses through the cluster's DNS
// Service (kube-system/kube-dns), as a pod would.
func clusterDNS(t *testing.T, ctx context.Context, host string) []string {
	t.Helper()
	dns, err := cluster.kube.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the cluster DNS Service: %v", err)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(dns.Spec.ClusterIP, "53"))
	}}
	lookupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := r.LookupIP(lookupCtx, "ip4", host+".") // absolute: no search domains
	if err != nil {
		t.Fatalf("resolving %s through the cluster DNS %s: %v", host, dns.Spec.ClusterIP, err)
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
