package devcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certSpec describes one certificate of the cluster's PKI.
type certSpec struct {
	name   string // file stem under pki/
	ca     string // stem of the signing CA
	cn     string
	orgs   []string
	dns    []string
	ips    []string
	server bool
	client bool
}

// pkiSpecs are the certificates the cluster needs; the node IP is part of the
// serving certificates, so a changed IP regenerates them.
func pkiSpecs(o Options) []certSpec {
	return []certSpec{
		{name: "apiserver", ca: "ca", cn: "kube-apiserver", server: true,
			dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + clusterDomain, "localhost"},
			ips: []string{"127.0.0.1", o.NodeIP, apiServiceIP}},
		{name: "apiserver-kubelet-client", ca: "ca", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true},
		{name: "admin", ca: "ca", cn: "kubernetes-admin", orgs: []string{"system:masters"}, client: true},
		{name: "controller-manager", ca: "ca", cn: "system:kube-controller-manager", client: true},
		{name: "scheduler", ca: "ca", cn: "system:kube-scheduler", client: true},
		{name: "kube-proxy", ca: "ca", cn: "system:kube-proxy", client: true},
		{name: "coredns", ca: "ca", cn: "csclr:coredns", orgs: []string{"system:masters"}, client: true},
		{name: "kubelet-client", ca: "ca", cn: "system:node:" + o.NodeName, orgs: []string{"system:nodes"}, client: true},
		{name: "kubelet", ca: "ca", cn: o.NodeName, server: true, dns: []string{o.NodeName, "localhost"}, ips: []string{"127.0.0.1", o.NodeIP}},
		{name: "front-proxy-client", ca: "front-proxy-ca", cn: "front-proxy-client", client: true},
	}
}

// ensurePKI creates the CAs, the service-account key and every certificate
// that is missing or does not match the current node IP.
func ensurePKI(l layout, o Options) error {
	if err := os.MkdirAll(l.path("pki"), 0o700); err != nil {
		return err
	}
	cas := map[string]*keyPair{}
	for _, name := range []string{"ca", "front-proxy-ca"} {
		kp, err := loadOrCreateCA(l, name)
		if err != nil {
			return err
		}
		cas[name] = kp
	}
	if err := ensureServiceAccountKey(l); err != nil {
		return err
	}
	marker := l.pki("node-ip")
	if old, _ := os.ReadFile(marker); string(old) != o.NodeIP {
		for _, s := range pkiSpecs(o) {
			_ = os.Remove(l.pki(s.name + ".crt"))
		}
	}
	for _, s := range pkiSpecs(o) {
		if _, err := os.Stat(l.pki(s.name + ".crt")); err == nil {
			continue
		}
		if err := issue(l, s, cas[s.ca]); err != nil {
			return fmt.Errorf("issuing the %s certificate: %w", s.name, err)
		}
	}
	return os.WriteFile(marker, []byte(o.NodeIP), 0o600)
}

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func loadOrCreateCA(l layout, name string) (*keyPair, error) {
	if kp, err := loadKeyPair(l.pki(name+".crt"), l.pki(name+".key")); err == nil {
		return kp, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "csclr-dev " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	if err := writePair(l.pki(name), der, key); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &keyPair{cert: cert, key: key}, err
}

func issue(l layout, s certSpec, ca *keyPair) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     s.dns,
	}
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if s.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if s.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return err
	}
	return writePair(l.pki(s.name), der, key)
}

func ensureServiceAccountKey(l layout) error {
	if _, err := os.Stat(l.pki("sa.key")); err == nil {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := writePEM(l.pki("sa.pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	return writePEM(l.pki("sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
}

func writePair(stem string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	// The key first: a certificate without its key must never be mistaken
	// for a complete pair.
	if err := writePEM(stem+".key", "EC PRIVATE KEY", kder); err != nil {
		return err
	}
	return writePEM(stem+".crt", "CERTIFICATE", der)
}

func writePEM(path, typ string, der []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadKeyPair(certPath, keyPath string) (*keyPair, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, fmt.Errorf("%s: not PEM", filepath.Base(certPath))
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
