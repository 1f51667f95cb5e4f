package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/modfile"
)

// A part is one program built from the Go module proxy in a throwaway
// wrapper module, cached under CacheDir()/<name>-<version>/bin.
type part struct {
	name    string
	version string
	// goMod returns the wrapper module's go.mod.
	goMod func(ctx context.Context) (string, error)
	// mainFile, when set, is the wrapper's own main package (main.go).
	mainFile string
	// koConfig, when set, is the wrapper's .ko.yaml (for parts ko builds).
	koConfig string
	// binaries maps an output file name to the package built into it.
	binaries map[string]string
	ldflags  string
}

// CacheDir is where built parts are kept: $CSCLR_CACHE, or ~/.cache/csclr.
func CacheDir() string {
	if d := os.Getenv("CSCLR_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "csclr")
	}
	return filepath.Join(os.TempDir(), "csclr-cache")
}

func (p part) dir() string    { return filepath.Join(CacheDir(), p.name+"-"+p.version) }
func (p part) binDir() string { return filepath.Join(p.dir(), "bin") }

// Bin is the path of one of the part's binaries.
func (p part) Bin(name string) string { return filepath.Join(p.binDir(), name) }

func (p part) cached() bool {
	for name := range p.binaries {
		if _, err := os.Stat(p.Bin(name)); err != nil {
			return false
		}
	}
	return true
}

// ensure builds the part unless its binaries are cached. Concurrent callers
// (parallel test packages, a second terminal) wait on a lock file instead of
// building twice.
func (p part) ensure(ctx context.Context, log Logger) error {
	if p.cached() {
		return nil
	}
	if err := os.MkdirAll(p.dir(), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, filepath.Join(p.dir(), ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if p.cached() {
		return nil
	}
	start := time.Now()
	log.Printf("building %s %s from the Go module proxy (first time only; log %s)", p.name, p.version, p.logPath())
	if err := buildHugePages.during(ctx, log, func() error { return p.build(ctx) }); err != nil {
		return fmt.Errorf("building %s %s: %w (full log: %s)", p.name, p.version, err, p.logPath())
	}
	log.Printf("built %s %s in %s", p.name, p.version, time.Since(start).Round(time.Second))
	return nil
}

func (p part) logPath() string { return filepath.Join(p.dir(), "build.log") }

func (p part) build(ctx context.Context) error {
	if err := p.prepare(ctx); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	src := filepath.Join(p.dir(), "src")
	tmp := p.binDir() + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := goBuild(ctx, logf, src, tmp, p.ldflags, p.binaries); err != nil {
		return err
	}
	_ = os.RemoveAll(p.binDir())
	return os.Rename(tmp, p.binDir())
}

// buildFlags are the flags of every binary csclr builds for the cluster:
// no paths, symbol tables or DWARF (neither the linker's nor the
// compiler's), as release builds do. Generating no debug information cuts
// the compile and link time of a cold build.
var buildFlags = []string{"-trimpath", "-gcflags=all=-dwarf=false"}

// goBuild builds binaries (file name → import path) into dir with one `go
// build`, so that the go command links several binaries at once and
// compiles the packages of the next while it links the last.
func goBuild(ctx context.Context, logf io.Writer, src, dir, ldflags string, binaries map[string]string) error {
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-ldflags", "-s -w "+ldflags)
	if len(binaries) == 1 {
		for name, pkg := range binaries {
			args = append(args, "-o", filepath.Join(dir, name), pkg)
		}
		return runLogged(ctx, logf, src, []string{"CGO_ENABLED=0"}, "go", args...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := sortedKeys(binaries)
	args = append(args, "-o", dir+string(filepath.Separator))
	for _, name := range names {
		args = append(args, binaries[name])
	}
	if err := runLogged(ctx, logf, src, []string{"CGO_ENABLED=0"}, "go", args...); err != nil {
		return err
	}
	for _, name := range names {
		if built := goBinaryName(binaries[name]); built != name {
			if err := os.Rename(filepath.Join(dir, built), filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// goBinaryName is the file name `go build -o dir/` gives a main package:
// the last element of its import path, or the one before a major version
// suffix (example.com/server/v3 → server).
func goBinaryName(importPath string) string {
	base := path.Base(importPath)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		return path.Base(path.Dir(importPath))
	}
	return base
}

// prepare writes the wrapper module and resolves its dependencies.
func (p part) prepare(ctx context.Context) error {
	src := filepath.Join(p.dir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	gomod, err := p.goMod(ctx)
	if err != nil {
		return err
	}
	files := map[string]string{"go.mod": gomod, "tools.go": p.toolsFile()}
	if p.mainFile != "" {
		files["main.go"] = p.mainFile
	}
	if p.koConfig != "" {
		files[".ko.yaml"] = p.koConfig
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(p.dir(), 0o755); err != nil {
		return err
	}
	logf, err := os.Create(p.logPath())
	if err != nil {
		return err
	}
	defer logf.Close()
	return runLogged(ctx, logf, src, nil, "go", "mod", "tidy")
}

// toolsFile keeps the built packages in the wrapper's module graph.
func (p part) toolsFile() string {
	var b strings.Builder
	// package main, like a wrapper's own main.go; the tag keeps it out of builds.
	b.WriteString("//go:build tools\n\npackage main\n\nimport (\n")
	for _, name := range sortedKeys(p.binaries) {
		if pkg := p.binaries[name]; pkg != "." {
			fmt.Fprintf(&b, "\t_ %q\n", pkg)
		}
	}
	b.WriteString(")\n")
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func simpleGoMod(module, version string, extra ...string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		lines := []string{"module csclr.dev/build/wrapper", "", "go 1.26", "", fmt.Sprintf("require %s %s", module, version)}
		return strings.Join(append(lines, extra...), "\n") + "\n", nil
	}
}

// kubernetesGoMod requires k8s.io/kubernetes and pins each of its staging
// modules (which its own go.mod replaces with local paths) to the matching
// published version.
func kubernetesGoMod(ctx context.Context) (string, error) {
	data, err := goCmd(ctx, os.TempDir(), "mod", "download", "-json", kubernetesModule+"@"+KubernetesVersion)
	if err != nil {
		return "", err
	}
	var info struct{ GoMod string }
	if err := jsonUnmarshal(data, &info); err != nil {
		return "", err
	}
	raw, err := os.ReadFile(info.GoMod)
	if err != nil {
		return "", err
	}
	mf, err := modfile.Parse(info.GoMod, raw, nil)
	if err != nil {
		return "", err
	}
	base, _ := simpleGoMod(kubernetesModule, KubernetesVersion)(ctx)
	var b strings.Builder
	b.WriteString(base)
	for _, r := range mf.Replace {
		if strings.HasPrefix(r.New.Path, "./staging/") {
			fmt.Fprintf(&b, "replace %s => %s %s\n", r.Old.Path, r.Old.Path, KubernetesLibVersion)
		}
	}
	return b.String(), nil
}

func kubernetesLDFlags() string {
	minor := strings.Split(strings.TrimPrefix(KubernetesVersion, "v"), ".")[1]
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X "+pkg+".gitVersion="+KubernetesVersion,
			"-X "+pkg+".gitMajor=1",
			"-X "+pkg+".gitMinor="+minor,
			"-X "+pkg+".gitTreeState=clean")
	}
	return strings.Join(flags, " ")
}

// The parts.
var (
	kubernetesPart = part{
		name: "kubernetes", version: KubernetesVersion, goMod: kubernetesGoMod, ldflags: kubernetesLDFlags(),
		binaries: map[string]string{
			"kube-apiserver":          "k8s.io/kubernetes/cmd/kube-apiserver",
			"kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
			"kube-scheduler":          "k8s.io/kubernetes/cmd/kube-scheduler",
			"kubelet":                 "k8s.io/kubernetes/cmd/kubelet",
			"kube-proxy":              "k8s.io/kubernetes/cmd/kube-proxy",
			"kubectl":                 "k8s.io/kubernetes/cmd/kubectl",
		},
	}
	etcdPart = part{
		name: "etcd", version: EtcdVersion, goMod: simpleGoMod(etcdModule, EtcdVersion),
		binaries: map[string]string{"etcd": etcdModule},
	}
	cranePart = part{
		name: "crane", version: CraneVersion, goMod: simpleGoMod(containerregistryMod, CraneVersion),
		binaries: map[string]string{"crane": containerregistryMod + "/cmd/crane"},
	}
	koPart = part{
		name: "ko", version: KoVersion, goMod: simpleGoMod(koModule, KoVersion),
		binaries: map[string]string{"ko": koModule},
	}
)

// controlPlaneParts are what `dev up --control-plane-only` and envtest need.
var controlPlaneParts = []part{etcdPart, kubernetesPart}

// EnvtestAssets builds (once) etcd, kube-apiserver and kubectl and returns a
// directory holding all three, for envtest's BinaryAssetsDirectory.
func EnvtestAssets(ctx context.Context) (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	for _, p := range controlPlaneParts {
		if err := p.ensure(ctx, stderrLogger()); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(CacheDir(), "envtest-"+KubernetesVersion+"-"+EtcdVersion)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	links := map[string]string{
		"etcd":           etcdPart.Bin("etcd"),
		"kube-apiserver": kubernetesPart.Bin("kube-apiserver"),
		"kubectl":        kubernetesPart.Bin("kubectl"),
	}
	for name, target := range links {
		link := filepath.Join(dir, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// lockFile takes an exclusive flock on path, giving up when ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s (another csclr is building): %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// coreDNSMain builds CoreDNS with only the plugins the local cluster's
// Corefile uses: the full plugin set pulls in every cloud SDK and triples
// the build time.
const coreDNSMain = `package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func main() { coremain.Run() }
`

// pauseMain is the pod sandbox's init process: it sleeps, reaps children
// and exits on SIGTERM or SIGINT.
const pauseMain = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
`

var (
	coreDNSPart = part{
		name: "coredns", version: CoreDNSVersion, goMod: simpleGoMod(coreDNSModule, CoreDNSVersion),
		mainFile: coreDNSMain, binaries: map[string]string{"coredns": "."},
	}
	pausePart = part{
		name: "pause", version: "1", goMod: func(context.Context) (string, error) {
			return "module csclr.dev/build/pause\n\ngo 1.26\n", nil
		},
		mainFile: pauseMain, binaries: map[string]string{"pause": "."},
	}
)
