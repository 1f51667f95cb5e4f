package devcluster

import (
	"crypto/x509"
	"encoding/pem"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPKIIssuesVerifiableCertificates(t *testing.T) {
	l := layout{root: t.TempDir()}
	o := Options{NodeIP: "192.0.2.7", NodeName: "node-a"}
	if err := ensurePKI(l, o); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, l.pki("ca.crt")))
	api := readCert(t, l.pki("apiserver.crt"))
	for _, host := range []string{"kubernetes.default.svc.cluster.local", "127.0.0.1", "192.0.2.7", "10.96.0.1"} {
		if _, err := api.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("apiserver certificate for %s: %v", host, err)
		}
	}
	kubelet := readCert(t, l.pki("kubelet-client.crt"))
	if kubelet.Subject.CommonName != "system:node:node-a" || kubelet.Subject.Organization[0] != "system:nodes" {
		t.Errorf("kubelet client subject = %v", kubelet.Subject)
	}
	if _, err := kubelet.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("kubelet client certificate: %v", err)
	}

	// A second run keeps the certificates; a new node IP reissues the
	// serving ones under the same CA.
	before := readCert(t, l.pki("apiserver.crt")).SerialNumber
	if err := ensurePKI(l, o); err != nil {
		t.Fatal(err)
	}
	if readCert(t, l.pki("apiserver.crt")).SerialNumber.Cmp(before) != 0 {
		t.Error("ensurePKI reissued an unchanged certificate")
	}
	o.NodeIP = "192.0.2.8"
	if err := ensurePKI(l, o); err != nil {
		t.Fatal(err)
	}
	if _, err := readCert(t, l.pki("apiserver.crt")).Verify(x509.VerifyOptions{DNSName: "192.0.2.8", Roots: roots}); err != nil {
		t.Errorf("after the node IP changed: %v", err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPortFreeNamesTheBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	err = portFree(port)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), ":") {
		t.Fatalf("portFree(%d) = %v, want an error naming the port", port, err)
	}
	ln.Close()
	if err := portFree(port); err != nil {
		t.Errorf("after close: %v", err)
	}
}

func TestMissingPackagesSaysHowToInstall(t *testing.T) {
	saved := debianPackages
	defer func() { debianPackages = saved }()
	debianPackages = append(debianPackages, struct{ name, file string }{"csclr-no-such-package", "/nonexistent/csclr"})
	if got := MissingPackages(); len(got) == 0 || got[len(got)-1] != "csclr-no-such-package" {
		t.Fatalf("MissingPackages() = %v", got)
	}
	if os.Geteuid() != 0 {
		t.Skip("preflight checks root first")
	}
	err := preflight()
	if err == nil || !strings.Contains(err.Error(), "csclr-no-such-package") || !strings.Contains(err.Error(), "csclr dev deps") {
		t.Errorf("preflight() = %v, want the missing package and the fix", err)
	}
}

func TestConfigsNameTheClusterPaths(t *testing.T) {
	l := layout{root: "/state"}
	o := Options{NodeIP: "192.0.2.7", NodeName: "node-a"}
	for name, tc := range map[string]struct {
		text string
		want []string
	}{
		"containerd": {containerdConfig(l), []string{`address = "/state/containerd/containerd.sock"`, "restrict_oom_score_adj = true", `conf_dir = "/state/cni/net.d"`, pauseImage()}},
		"kubelet":    {kubeletConfig(l), []string{"failCgroupV1: false", "cgroupDriver: cgroupfs", "clusterDNS: [10.96.0.10]"}},
		"kube-proxy": {kubeProxyConfig(l, o), []string{"maxPerCore: 0", "hostnameOverride: node-a"}},
		"corefile":   {corefile(l, o), []string{"bind 192.0.2.7", "kubernetes cluster.local"}},
		"cni":        {cniConfig(l), []string{`"dataDir": "/state/cni/ipam"`, `"bridge": "cni0"`}},
		"kubeconfig": {kubeconfig(l, "admin", "https://127.0.0.1:6443"), []string{"client-certificate: /state/pki/admin.crt"}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(tc.text, w) {
				t.Errorf("%s config lacks %q:\n%s", name, w, tc.text)
			}
		}
	}
}

func TestToolsFileImportsBuiltPackages(t *testing.T) {
	got := kubernetesPart.toolsFile()
	for _, want := range []string{"//go:build tools", `_ "k8s.io/kubernetes/cmd/kubelet"`, `_ "k8s.io/kubernetes/cmd/kube-apiserver"`} {
		if !strings.Contains(got, want) {
			t.Errorf("tools.go lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(coreDNSPart.toolsFile(), `"."`) {
		t.Error("a wrapper's own main package must not be imported")
	}
}

func TestKubernetesLDFlagsSetTheVersion(t *testing.T) {
	got := kubernetesLDFlags()
	for _, want := range []string{"k8s.io/component-base/version.gitVersion=" + KubernetesVersion, "k8s.io/client-go/pkg/version.gitMinor=35"} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags lack %q: %s", want, got)
		}
	}
}

// The wrapper pins every staging module k8s.io/kubernetes replaces with a
// local path; without the pins `go mod tidy` asks the proxy for v0.0.0.
func TestKubernetesGoModPinsStagingModules(t *testing.T) {
	if testing.Short() {
		t.Skip("reads k8s.io/kubernetes' go.mod from the module cache (or proxy)")
	}
	got, err := kubernetesGoMod(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"require k8s.io/kubernetes " + KubernetesVersion, "replace k8s.io/apiserver => k8s.io/apiserver " + KubernetesLibVersion, "replace k8s.io/dynamic-resource-allocation => k8s.io/dynamic-resource-allocation " + KubernetesLibVersion} {
		if !strings.Contains(got, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, got)
		}
	}
}

func TestRenderKEDAUsesTheBuiltImages(t *testing.T) {
	if testing.Short() {
		t.Skip("reads KEDA's config from the module cache")
	}
	dirs, err := ModuleDirs(t.Context(), kedaModule)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for image := range kedaImages {
		refs[image] = "127.0.0.1:5000/keda/" + image[strings.LastIndex(image, "/")+1:] + "@sha256:" + strings.Repeat("a", 64)
	}
	out, err := renderKEDA(dirs[kedaModule]+"/config/default", refs)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if strings.Contains(text, "ghcr.io/") {
		t.Error("rendered KEDA still pulls from ghcr.io")
	}
	if strings.Contains(text, "- /keda") {
		t.Error("rendered KEDA keeps a container command; ko images start by entrypoint")
	}
	for _, want := range []string{"image: 127.0.0.1:5000/keda/keda@sha256:", "image: 127.0.0.1:5000/keda/keda-metrics-apiserver@sha256:", "kind: APIService", "name: WATCH_NAMESPACE"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered KEDA lacks %q", want)
		}
	}
}

func TestMatchKoRefsFollowsImportPaths(t *testing.T) {
	printed := []string{
		"127.0.0.1:5000/keda/webhooks:v1@sha256:1",
		"127.0.0.1:5000/keda/operator:v1@sha256:2",
		"127.0.0.1:5000/keda/adapter@sha256:3",
	}
	got, err := matchKoRefs([]string{"x/cmd/operator", "x/cmd/adapter", "x/cmd/webhooks"}, printed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{printed[1], printed[2], printed[0]}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ref %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := matchKoRefs([]string{"x/cmd/missing"}, printed); err == nil {
		t.Error("no error for an import path ko built no image for")
	}
}

func TestGoBinaryName(t *testing.T) {
	for path, want := range map[string]string{
		"k8s.io/kubernetes/cmd/kube-apiserver": "kube-apiserver",
		"go.etcd.io/etcd/server/v3":            "server",
		"github.com/google/ko":                 "ko",
		"example.com/tools/v":                  "v",
		"example.com/vet":                      "vet",
	} {
		if got := goBinaryName(path); got != want {
			t.Errorf("goBinaryName(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestKoReferencesOfConfigCore(t *testing.T) {
	refs, err := koReferences(filepath.Join("..", "..", "config", "core"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"csclr.dev/csclr/cmd/controller", "csclr.dev/csclr/cmd/activator", "csclr.dev/csclr/cmd/queue"} {
		if !slices.Contains(refs, want) {
			t.Errorf("koReferences(config/core) = %v, missing %s", refs, want)
		}
	}
}

// The pause program is Go source in a string: type-check it here, so that a
// mistake shows in the unit tier and not in a cold cluster build.
func TestPauseMainTypeChecks(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", pauseMain, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("main", fset, []*ast.File{f}, nil); err != nil {
		t.Fatalf("pauseMain: %v", err)
	}
	if _, err := parser.ParseFile(fset, "coredns.go", coreDNSMain, 0); err != nil {
		t.Fatalf("coreDNSMain: %v", err)
	}
}

// `down` saves the registry's journal where `up` kept its blobs, whatever
// $CSCLR_CACHE says when it runs.
func TestRegistryDirOfFollowsUp(t *testing.T) {
	l := layout{root: t.TempDir()}
	if got := registryDirOf(l); got != registryDir() {
		t.Errorf("no record: %q, want the current %q", got, registryDir())
	}
	if err := os.WriteFile(l.registryDirFile(), []byte("/tmp/other-cache/registry\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := registryDirOf(l); got != "/tmp/other-cache/registry" {
		t.Errorf("recorded: %q, want /tmp/other-cache/registry", got)
	}
}

// A journal entry is restored only if its blobs (and, for an index, its
// manifests) are there.
func TestJournalEntryComplete(t *testing.T) {
	t.Setenv("CSCLR_CACHE", t.TempDir())
	blob := func(hex string) {
		dir := filepath.Join(registryDir(), "blobs", "sha256")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, hex), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, layer := strings.Repeat("a", 64), strings.Repeat("b", 64)
	image := journalEntry{MediaType: "application/vnd.oci.image.manifest.v1+json", Manifest: []byte(`{"schemaVersion":2,` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":"sha256:` + cfg + `"},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":"sha256:` + layer + `"}]}`)}
	restored := map[string]bool{}
	blob(cfg)
	if complete(image, restored) {
		t.Error("an image with a missing layer counts as complete")
	}
	blob(layer)
	if !complete(image, restored) {
		t.Error("an image with all its blobs counts as incomplete")
	}
	child := "sha256:" + strings.Repeat("c", 64)
	index := journalEntry{MediaType: "application/vnd.oci.image.index.v1+json", Manifest: []byte(`{"schemaVersion":2,` +
		`"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"` + child + `"}]}`)}
	if complete(index, restored) {
		t.Error("an index whose manifest was not restored counts as complete")
	}
	restored[child] = true
	if !complete(index, restored) {
		t.Error("an index whose manifests were restored counts as incomplete")
	}
}
