package devcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// KEDA's images and csclr's share most of their packages (client-go,
// controller-runtime, gRPC, OpenTelemetry), but KEDA's go.mod selects older
// versions of a few modules that sit under all of them (golang.org/x/sys,
// x/net, otel). A package's build-cache key covers the versions of every
// package it imports, so one older x/sys gives every Kubernetes package a
// key of its own, and csclr's images compiled again what KEDA's had just
// compiled. KEDA's wrapper module therefore raises each requirement it
// shares with csclr's module graph to csclr's version when csclr's is
// higher (never lowering one), so that with the same flags and -trimpath
// the go command finds csclr's packages in the cache KEDA's build filled.

// alignedFile, in an aligned KEDA part's directory, lists the raised
// requirements; failedFile records why that part did not build.
const (
	alignedFile = "aligned.txt"
	failedFile  = "failed.txt"
)

// moduleList is the output of `go list -m all`: the selected version of
// each module, and which of them are replaced.
type moduleList struct {
	version  map[string]string
	replaced map[string]bool
}

// parseModuleList reads `go list -m all` output. The main module's line
// has no version and is left out.
func parseModuleList(out string) moduleList {
	l := moduleList{version: map[string]string{}, replaced: map[string]bool{}}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[1] == "=>" {
			continue
		}
		l.version[f[0]] = f[1]
		if slices.Contains(f, "=>") {
			l.replaced[f[0]] = true
		}
	}
	return l
}

// raisedRequirements returns, sorted by path, the modules of the wrapper's
// list (`go list -m all` in the wrapper) that the main list (csclr's)
// selects at a higher version, at that version. Modules either side
// replaces, and versions the wrapper excludes, are left as they are.
func raisedRequirements(wrapper, main string, excluded []module.Version) []module.Version {
	w, m := parseModuleList(wrapper), parseModuleList(main)
	var raised []module.Version
	for path, wv := range w.version {
		mv, ok := m.version[path]
		if !ok || w.replaced[path] || m.replaced[path] || !semver.IsValid(mv) || semver.Compare(mv, wv) <= 0 {
			continue
		}
		if slices.Contains(excluded, module.Version{Path: path, Version: mv}) {
			continue
		}
		raised = append(raised, module.Version{Path: path, Version: mv})
	}
	slices.SortFunc(raised, func(a, b module.Version) int { return strings.Compare(a.Path, b.Path) })
	return raised
}

// versionDifferences lists the modules both lists select at different
// versions, as "path wrapper-version (csclr: main-version)".
func versionDifferences(wrapper, main string) []string {
	w, m := parseModuleList(wrapper), parseModuleList(main)
	var diffs []string
	for _, path := range sortedKeys(w.version) {
		if mv, ok := m.version[path]; ok && mv != w.version[path] {
			diffs = append(diffs, fmt.Sprintf("%s %s (csclr: %s)", path, w.version[path], mv))
		}
	}
	return diffs
}

// requirementsText is the raised requirements one "path version" a line:
// the contents of alignedFile, and what the aligned part's key hashes.
func requirementsText(raised []module.Version) string {
	var b strings.Builder
	for _, r := range raised {
		fmt.Fprintf(&b, "%s %s\n", r.Path, r.Version)
	}
	return b.String()
}

// withRequirements adds a require block to a go.mod; `go mod tidy` merges
// it into the others.
func withRequirements(gomod string, raised []module.Version) string {
	if len(raised) == 0 {
		return gomod
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(gomod, "\n"))
	b.WriteString("\n\n// Raised to csclr's versions, so that the packages both build share the build cache.\nrequire (\n")
	for _, r := range raised {
		fmt.Fprintf(&b, "\t%s %s\n", r.Path, r.Version)
	}
	b.WriteString(")\n")
	return b.String()
}

// alignedPart is p with raised requirements; its version, and so its cache
// directory, names a hash of them.
func alignedPart(p part, raised []module.Version) part {
	sum := sha256.Sum256([]byte(requirementsText(raised)))
	base := p.goMod
	p.version += "-aligned-" + hex.EncodeToString(sum[:6])
	p.goMod = func(ctx context.Context) (string, error) {
		gomod, err := base(ctx)
		if err != nil {
			return "", err
		}
		return withRequirements(gomod, raised), nil
	}
	return p
}

// excludes returns the versions a go.mod excludes.
func excludes(gomod string) ([]module.Version, error) {
	f, err := modfile.Parse("go.mod", []byte(gomod), nil)
	if err != nil {
		return nil, err
	}
	var ex []module.Version
	for _, e := range f.Exclude {
		ex = append(ex, e.Mod)
	}
	return ex, nil
}

// wrapperModuleList is `go list -m all` in p's wrapper module as p itself
// defines it, resolved once (in CacheDir()/<name>-graph-<version>) and kept.
func wrapperModuleList(ctx context.Context, p part) (string, error) {
	g := p
	g.name += "-graph"
	file := filepath.Join(g.dir(), "modules.txt")
	if data, err := os.ReadFile(file); err == nil {
		return string(data), nil
	}
	if err := os.MkdirAll(g.dir(), 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(g.dir(), ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if data, err := os.ReadFile(file); err == nil {
		return string(data), nil
	}
	if err := g.prepare(ctx); err != nil {
		return "", fmt.Errorf("%w (log %s)", err, g.logPath())
	}
	out, err := goCmd(ctx, filepath.Join(g.dir(), "src"), "list", "-m", "all")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(file+".tmp", []byte(out), 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(file+".tmp", file)
}

// alignWith returns p with every requirement it shares with the module at
// repoRoot (csclr's checkout) raised to that module's version where it is
// higher, and whether it raised any. It returns p unchanged, after logging
// why, when it cannot list either module graph, when nothing is to raise,
// or when the aligned wrapper failed to build before (failedFile).
func alignWith(ctx context.Context, p part, repoRoot string, log Logger) (part, bool) {
	if repoRoot == "" {
		return p, false
	}
	main, err := goCmd(ctx, repoRoot, "list", "-m", "all")
	if err != nil {
		log.Printf("%s: building with its own requirements (listing csclr's modules: %v)", p.name, err)
		return p, false
	}
	wrapper, err := wrapperModuleList(ctx, p)
	if err != nil {
		log.Printf("%s: building with its own requirements (listing its modules: %v)", p.name, err)
		return p, false
	}
	gomod, err := p.goMod(ctx)
	if err != nil {
		log.Printf("%s: building with its own requirements (%v)", p.name, err)
		return p, false
	}
	ex, err := excludes(gomod)
	if err != nil {
		log.Printf("%s: building with its own requirements (%v)", p.name, err)
		return p, false
	}
	raised := raisedRequirements(wrapper, main, ex)
	if len(raised) == 0 {
		return p, false
	}
	aligned := alignedPart(p, raised)
	if why, err := os.ReadFile(filepath.Join(aligned.dir(), failedFile)); err == nil {
		log.Printf("%s: building with its own requirements: with %d of them raised to csclr's versions it failed before (%s; remove %s to try again)",
			p.name, len(raised), firstLine(string(why)), aligned.dir())
		return p, false
	}
	if err := os.MkdirAll(aligned.dir(), 0o755); err != nil {
		return p, false
	}
	if err := os.WriteFile(filepath.Join(aligned.dir(), alignedFile), []byte(requirementsText(raised)), 0o644); err != nil {
		return p, false
	}
	return aligned, true
}

// logGraphDifferences appends to the build log the modules that provide
// packages to a prepared wrapper (after `go mod tidy` its go.mod requires
// exactly those) at another version than repoRoot's module selects: the
// ones the wrapper needs newer (never lowered), whose packages, and those
// above them, the two builds compile separately.
func logGraphDifferences(ctx context.Context, p part, repoRoot string) {
	src := filepath.Join(p.dir(), "src")
	wrapper, err := goCmd(ctx, src, "list", "-m", "all")
	if err != nil {
		return
	}
	main, err := goCmd(ctx, repoRoot, "list", "-m", "all")
	if err != nil {
		return
	}
	data, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return
	}
	gomod, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return
	}
	f, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	var diffs []string
	for _, d := range versionDifferences(wrapper, main) {
		if slices.ContainsFunc(gomod.Require, func(r *modfile.Require) bool { return strings.HasPrefix(d, r.Mod.Path+" ") }) {
			diffs = append(diffs, d)
		}
	}
	fmt.Fprintf(f, "\n%d modules providing packages at other versions than csclr's after raising requirements:\n", len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(f, "\t%s\n", d)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
