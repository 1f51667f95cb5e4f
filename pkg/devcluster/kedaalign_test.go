package devcluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"sigs.k8s.io/yaml"
)

// Excerpts of `go list -m all` in KEDA's wrapper and in csclr's checkout.
const (
	kedaModules = `csclr.dev/build/wrapper
github.com/go-chi/chi/v5 v5.2.2
github.com/kedacore/keda/v2 v2.21.0
github.com/miekg/dns v1.1.72
github.com/nexus-rpc/nexus-proto-annotations v0.1.0 => github.com/nexus-rpc/nexus-proto-annotations v0.1.1-0.20260629224316-835bd8d49cb4
go.opentelemetry.io/otel v1.46.0
golang.org/x/net v0.58.0
golang.org/x/sys v0.47.0
google.golang.org/genproto/googleapis/rpc v0.0.0-20260904194346-d0f1323225a4
k8s.io/client-go v0.36.4
only.in/keda v1.0.0
`
	csclrModules = `csclr.dev/csclr
github.com/go-chi/chi/v5 v5.2.3
github.com/kedacore/keda/v2 v2.21.0
github.com/miekg/dns v1.1.68
github.com/nexus-rpc/nexus-proto-annotations v0.2.0
go.opentelemetry.io/otel v1.47.0
golang.org/x/net v0.59.0
golang.org/x/sys v0.48.0
google.golang.org/genproto/googleapis/rpc v0.0.0-20260928230214-8a89bd6388cc
k8s.io/client-go v0.36.4
local.example/fork v1.2.0 => ../fork
only.in/csclr v1.0.0
`
)

func TestRaisedRequirements(t *testing.T) {
	excluded := []module.Version{{Path: "github.com/go-chi/chi/v5", Version: "v5.2.3"}}
	got := requirementsText(raisedRequirements(kedaModules, csclrModules, excluded))
	// Raised: only modules both select, only upwards (not miekg/dns), not
	// the one KEDA replaces (nexus), not to a version KEDA excludes (chi).
	want := `go.opentelemetry.io/otel v1.47.0
golang.org/x/net v0.59.0
golang.org/x/sys v0.48.0
google.golang.org/genproto/googleapis/rpc v0.0.0-20260928230214-8a89bd6388cc
`
	if got != want {
		t.Errorf("raised requirements:\n%s\nwant:\n%s", got, want)
	}
	if r := raisedRequirements(csclrModules, csclrModules, nil); len(r) != 0 {
		t.Errorf("a graph against itself raised %v", r)
	}
}

func TestVersionDifferences(t *testing.T) {
	got := versionDifferences(kedaModules, csclrModules)
	want := []string{
		"github.com/go-chi/chi/v5 v5.2.2 (csclr: v5.2.3)",
		"github.com/miekg/dns v1.1.72 (csclr: v1.1.68)",
		"github.com/nexus-rpc/nexus-proto-annotations v0.1.0 (csclr: v0.2.0)",
		"go.opentelemetry.io/otel v1.46.0 (csclr: v1.47.0)",
		"golang.org/x/net v0.58.0 (csclr: v0.59.0)",
		"golang.org/x/sys v0.47.0 (csclr: v0.48.0)",
		"google.golang.org/genproto/googleapis/rpc v0.0.0-20260904194346-d0f1323225a4 (csclr: v0.0.0-20260928230214-8a89bd6388cc)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAlignedPartKeepsReplaceAndExcludeAndKeysItsDirectory(t *testing.T) {
	t.Setenv("CSCLR_CACHE", t.TempDir())
	ctx := context.Background()
	base, err := kedaPart.goMod(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := excludes(base)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ex, module.Version{Path: "github.com/go-chi/chi/v5", Version: "v5.2.3"}) {
		t.Errorf("excludes(kedaPart's go.mod) = %v", ex)
	}
	raised := raisedRequirements(kedaModules, csclrModules, ex)
	p := alignedPart(kedaPart, raised)
	gomod, err := p.goMod(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", []byte(gomod), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, gomod)
	}
	if len(f.Replace) != 1 || f.Replace[0].Old.Path != "github.com/nexus-rpc/nexus-proto-annotations" || len(f.Exclude) != 1 {
		t.Errorf("aligned go.mod lost KEDA's replace or exclude:\n%s", gomod)
	}
	required := map[string]string{}
	for _, r := range f.Require {
		required[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range raised {
		if required[r.Path] != r.Version {
			t.Errorf("aligned go.mod requires %s %q, want %s", r.Path, required[r.Path], r.Version)
		}
	}
	if required[kedaModule] != KEDAVersion {
		t.Errorf("aligned go.mod requires %s %q", kedaModule, required[kedaModule])
	}

	// The directory (the cache key) names the raised requirements: other
	// ones, another directory; none raised, KEDA's own.
	if p.dir() == kedaPart.dir() || !strings.HasPrefix(filepath.Base(p.dir()), "keda-"+KEDAVersion+"-aligned-") {
		t.Errorf("aligned part's directory %s", p.dir())
	}
	if q := alignedPart(kedaPart, raised[:1]); q.dir() == p.dir() {
		t.Errorf("different raised requirements share the directory %s", p.dir())
	}
	if q := alignedPart(kedaPart, slices.Clone(raised)); q.dir() != p.dir() {
		t.Errorf("the same raised requirements give directories %s and %s", p.dir(), q.dir())
	}
	if gomod, _ := alignedPart(kedaPart, nil).goMod(ctx); gomod != base {
		t.Errorf("nothing raised changed the go.mod:\n%s", gomod)
	}
}

func TestAlignWithSkipsAPartThatFailedBefore(t *testing.T) {
	if testing.Short() {
		t.Skip("lists csclr's module graph")
	}
	root := RepoRoot()
	if root == "" {
		t.Skip("not in csclr's checkout")
	}
	t.Setenv("CSCLR_CACHE", t.TempDir())
	// A stand-in for KEDA's resolved graph (wrapperModuleList keeps it
	// there), old enough that csclr's raises x/sys.
	graph := kedaPart
	graph.name += "-graph"
	if err := os.MkdirAll(graph.dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(graph.dir(), "modules.txt"), []byte("csclr.dev/build/wrapper\ngolang.org/x/sys v0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var log strings.Builder
	p, aligned := alignWith(ctx, kedaPart, root, loggerFunc(func(f string, a ...any) {}))
	if !aligned || p.dir() == kedaPart.dir() {
		t.Fatalf("alignWith did not raise x/sys: %s", p.dir())
	}
	if data, err := os.ReadFile(filepath.Join(p.dir(), alignedFile)); err != nil || !strings.HasPrefix(string(data), "golang.org/x/sys v0.") {
		t.Errorf("%s: %q %v", alignedFile, data, err)
	}
	if err := os.WriteFile(filepath.Join(p.dir(), failedFile), []byte("compile error\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	q, aligned := alignWith(ctx, kedaPart, root, loggerFunc(func(f string, a ...any) { log.WriteString(f) }))
	if aligned || q.dir() != kedaPart.dir() {
		t.Errorf("alignWith chose %s after the aligned build failed", q.dir())
	}
	if !strings.Contains(log.String(), "failed before") {
		t.Errorf("no reason logged: %q", log.String())
	}
}

type loggerFunc func(format string, args ...any)

func (f loggerFunc) Printf(format string, args ...any) { f(format, args...) }

// csclr's images share KEDA's compiled packages only when ko builds both
// with the same flags: the repository's ko.yaml (read through KO_CONFIG_PATH)
// and KEDA's wrapper must agree, and precompile must read them.
func TestCsclrKoConfigMatchesKEDAs(t *testing.T) {
	type koConfig struct {
		DefaultFlags   []string `json:"defaultFlags"`
		DefaultLdflags []string `json:"defaultLdflags"`
	}
	var keda, csclr koConfig
	if err := yaml.Unmarshal([]byte(kedaPart.koConfig), &keda); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &csclr); err != nil {
		t.Fatal(err)
	}
	if len(keda.DefaultFlags) == 0 || !slices.Equal(csclr.DefaultFlags, keda.DefaultFlags) || !slices.Equal(csclr.DefaultLdflags, keda.DefaultLdflags) {
		t.Errorf("csclr's ko.yaml %+v, KEDA's %+v", csclr, keda)
	}
	if got := koDefaultFlags(root); !slices.Equal(got, keda.DefaultFlags) {
		t.Errorf("precompile passes %v in csclr's checkout, ko %v", got, keda.DefaultFlags)
	}
	if env := koEnv(root, "r"); !slices.Contains(env, "KO_CONFIG_PATH="+filepath.Join(root, "ko.yaml")) {
		t.Errorf("koEnv in csclr's checkout = %v, want KO_CONFIG_PATH naming its ko.yaml (ko reads .ko.yaml by itself only)", env)
	}
}
