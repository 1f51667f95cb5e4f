package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

var testPolicy = certPolicy{
	Hosts:        []string{"csclr-webhook.csclr-system.svc", "127.0.0.1"},
	CAValidity:   100 * 24 * time.Hour,
	CertValidity: 30 * 24 * time.Hour,
	RenewBefore:  7 * 24 * time.Hour,
}

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestIssuedCertsServeAndVerify(t *testing.T) {
	data, err := issueCerts(nil, t0, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if err := certProblem(data, t0, testPolicy); err != nil {
		t.Fatalf("fresh certificates have a problem: %v", err)
	}
	cert, err := servingCert(data)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if got, want := leaf.DNSNames, []string{"csclr-webhook.csclr-system.svc"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("DNS names = %v, want %v", got, want)
	}
	if len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("IP addresses = %v, want [127.0.0.1]", leaf.IPAddresses)
	}
	if !leaf.NotAfter.Equal(t0.Add(testPolicy.CertValidity)) {
		t.Errorf("NotAfter = %v, want %v", leaf.NotAfter, t0.Add(testPolicy.CertValidity))
	}
	var _ tls.Certificate = *cert
}

func TestCertProblem(t *testing.T) {
	fresh, err := issueCerts(nil, t0, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	other, err := issueCerts(nil, t0, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	mixed := map[string][]byte{
		secretCAKey: fresh[secretCAKey], secretCAKeyPK: fresh[secretCAKeyPK],
		secretCertKey: other[secretCertKey], secretKeyKey: other[secretKeyKey],
	}
	wrongCAKey := map[string][]byte{
		secretCAKey: fresh[secretCAKey], secretCAKeyPK: other[secretCAKeyPK],
		secretCertKey: fresh[secretCertKey], secretKeyKey: fresh[secretKeyKey],
	}
	morePolicy := testPolicy
	morePolicy.Hosts = append([]string{"other.svc"}, testPolicy.Hosts...)
	for _, tc := range []struct {
		name   string
		data   map[string][]byte
		now    time.Time
		policy certPolicy
		want   string // substring of the problem; "" for none
	}{
		{"empty secret", nil, t0, testPolicy, "no CA certificate"},
		{"fresh", fresh, t0, testPolicy, ""},
		{"leaf near expiry", fresh, t0.Add(testPolicy.CertValidity - testPolicy.RenewBefore + time.Minute), testPolicy, "serving certificate expires"},
		{"leaf just before the renewal window", fresh, t0.Add(testPolicy.CertValidity - testPolicy.RenewBefore - time.Minute), testPolicy, ""},
		{"leaf from another CA", mixed, t0, testPolicy, "does not verify"},
		{"CA key of another CA", wrongCAKey, t0, testPolicy, "does not belong"},
		{"new host name", fresh, t0, morePolicy, `does not verify for "other.svc"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := certProblem(tc.data, tc.now, tc.policy)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected problem: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("problem = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRenewalKeepsTheCAWhileItLivesLongEnough(t *testing.T) {
	first, err := issueCerts(nil, t0, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(testPolicy.CertValidity)
	renewed, err := issueCerts(first, later, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if string(renewed[secretCAKey]) != string(first[secretCAKey]) {
		t.Error("renewing the serving certificate changed the CA bundle; the caBundle of the webhooks would have to change too")
	}
	if string(renewed[secretCertKey]) == string(first[secretCertKey]) {
		t.Error("the serving certificate was not renewed")
	}
	if err := certProblem(renewed, later, testPolicy); err != nil {
		t.Errorf("renewed certificates have a problem: %v", err)
	}
}

func TestCARotationKeepsTheOldCATrusted(t *testing.T) {
	first, err := issueCerts(nil, t0, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	// The CA can no longer cover a full serving-certificate lifetime.
	later := t0.Add(testPolicy.CAValidity - testPolicy.CertValidity)
	rotated, err := issueCerts(first, later, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	cas := pemCerts(t, rotated[secretCAKey])
	oldCA := pemCerts(t, first[secretCAKey])[0]
	if len(cas) != 2 || cas[0].Equal(oldCA) || !cas[1].Equal(oldCA) {
		t.Fatalf("bundle after rotation = %d certificates, want the new CA followed by the old one", len(cas))
	}
	if err := certProblem(rotated, later, testPolicy); err != nil {
		t.Errorf("rotated certificates have a problem: %v", err)
	}
	// Once the old CA has expired, the next renewal drops it.
	muchLater := t0.Add(testPolicy.CAValidity + time.Hour)
	again, err := issueCerts(rotated, muchLater, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pemCerts(t, again[secretCAKey])); n != 1 {
		t.Errorf("bundle after the old CA expired has %d certificates, want 1", n)
	}
}

func pemCerts(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}
