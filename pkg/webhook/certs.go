package webhook

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Keys of the certificate Secret.
const (
	// secretCAKey holds the CA bundle for caBundle: the signing CA first, then
	// a retired CA that is still valid, so that a CA rotation does not break
	// callers that still present the previous serving certificate.
	secretCAKey   = "ca.crt"
	secretCAKeyPK = "ca.key"
	secretCertKey = "tls.crt"
	secretKeyKey  = "tls.key"
)

// certPolicy says what the serving certificate must cover and how long
// certificates live.
type certPolicy struct {
	// Hosts are the DNS names and IP addresses the serving certificate must be valid for.
	Hosts []string
	// CAValidity and CertValidity are the lifetimes of new certificates.
	CAValidity, CertValidity time.Duration
	// RenewBefore is how long before expiry a certificate is replaced.
	RenewBefore time.Duration
}

// certProblem reports why the Secret's certificates cannot be served as they
// are (nil if they can). It is a pure check of the Secret's data.
func certProblem(data map[string][]byte, now time.Time, p certPolicy) error {
	ca, _, err := parseCA(data)
	if err != nil {
		return err
	}
	if ca.NotAfter.Sub(now) < p.RenewBefore {
		return fmt.Errorf("the CA expires at %s", ca.NotAfter.Format(time.RFC3339))
	}
	leaf, err := parseLeaf(data)
	if err != nil {
		return err
	}
	if leaf.NotAfter.Sub(now) < p.RenewBefore {
		return fmt.Errorf("the serving certificate expires at %s", leaf.NotAfter.Format(time.RFC3339))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, h := range p.Hosts {
		opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, DNSName: h}
		if _, err := leaf.Verify(opts); err != nil {
			return fmt.Errorf("the serving certificate does not verify for %q: %w", h, err)
		}
	}
	return nil
}

// issueCerts returns new Secret data: a serving certificate for p.Hosts,
// signed by the CA from prev if that CA lives long enough, else by a new CA
// (with the previous CA kept in the bundle while it is valid).
func issueCerts(prev map[string][]byte, now time.Time, p certPolicy) (map[string][]byte, error) {
	ca, caKey, err := parseCA(prev)
	bundle := []byte(nil)
	if err != nil || ca.NotAfter.Sub(now) < p.CertValidity+p.RenewBefore {
		if err == nil && ca.NotAfter.After(now) {
			bundle = pemBlock("CERTIFICATE", ca.Raw)
		}
		if ca, caKey, err = newCA(now, p.CAValidity); err != nil {
			return nil, err
		}
	} else {
		_, rest := pem.Decode(prev[secretCAKey])
		bundle = retainValid(rest, now)
	}
	leafDER, leafKey, err := newLeaf(ca, caKey, now, p)
	if err != nil {
		return nil, err
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return nil, err
	}
	leafKeyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		secretCAKey:   append(pemBlock("CERTIFICATE", ca.Raw), bundle...),
		secretCAKeyPK: pemBlock("PRIVATE KEY", caKeyDER),
		secretCertKey: append(pemBlock("CERTIFICATE", leafDER), pemBlock("CERTIFICATE", ca.Raw)...),
		secretKeyKey:  pemBlock("PRIVATE KEY", leafKeyDER),
	}, nil
}

// servingCert is the tls.Certificate the webhook server presents.
func servingCert(data map[string][]byte) (*tls.Certificate, error) {
	c, err := tls.X509KeyPair(data[secretCertKey], data[secretKeyKey])
	if err != nil {
		return nil, fmt.Errorf("loading %s/%s: %w", secretCertKey, secretKeyKey, err)
	}
	return &c, nil
}

func newCA(now time.Time, validity time.Duration) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "csclr-webhook-ca", Organization: []string{"csclr"}},
		NotBefore:             now.Add(-time.Hour), // tolerate clock skew between replicas and the apiserver
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the webhook CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func newLeaf(ca *x509.Certificate, caKey crypto.Signer, now time.Time, p certPolicy) ([]byte, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(p.CertValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: firstOr(p.Hosts, "csclr-webhook"), Organization: []string{"csclr"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range p.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the webhook serving certificate: %w", err)
	}
	return der, key, nil
}

// parseCA returns the signing CA (the first certificate of ca.crt) and its key.
func parseCA(data map[string][]byte) (*x509.Certificate, crypto.Signer, error) {
	block, _ := pem.Decode(data[secretCAKey])
	if block == nil {
		return nil, nil, errors.New("no CA certificate in " + secretCAKey)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", secretCAKey, err)
	}
	keyBlock, _ := pem.Decode(data[secretCAKeyPK])
	if keyBlock == nil {
		return nil, nil, errors.New("no CA key in " + secretCAKeyPK)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", secretCAKeyPK, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a signing key", secretCAKeyPK)
	}
	if !publicKeysEqual(signer.Public(), ca.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not belong to the certificate in %s", secretCAKeyPK, secretCAKey)
	}
	return ca, signer, nil
}

func parseLeaf(data map[string][]byte) (*x509.Certificate, error) {
	c, err := servingCert(data)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// retainValid keeps the PEM certificates of bundle that have not expired.
func retainValid(bundle []byte, now time.Time) []byte {
	var out []byte
	for {
		var block *pem.Block
		block, bundle = pem.Decode(bundle)
		if block == nil {
			return out
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && c.NotAfter.After(now) {
			out = append(out, pem.EncodeToMemory(block)...)
		}
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	// crypto/rand does not fail on supported platforms (Go 1.24+ aborts
	// instead); a nil serial would make CreateCertificate report it.
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func firstOr(list []string, fallback string) string {
	if len(list) > 0 {
		return list[0]
	}
	return fallback
}
