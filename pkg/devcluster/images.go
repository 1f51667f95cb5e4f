package devcluster

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"
)

// Images the cluster builds itself: no public registry is reachable, so the
// ko base image and the pod sandbox (pause) image are made here and pushed to
// the local registry.
const imageTag = "v1"

// BaseImage is KO_DEFAULTBASEIMAGE for images built against the local registry.
func BaseImage() string { return RegistryAddr + "/csclr/base:" + imageTag }

func pauseImage() string { return RegistryAddr + "/csclr/pause:" + imageTag }

// KoRepo is KO_DOCKER_REPO for csclr's own images.
func KoRepo() string { return RegistryAddr + "/csclr" }

// registryDir keeps the registry's blobs with the build cache, so that images
// survive `dev down` and a warm `dev up` pushes nothing.
func registryDir() string { return filepath.Join(CacheDir(), "registry") }

// ensureBaseImages pushes the base and pause images unless present.
func ensureBaseImages(ctx context.Context, log Logger) error {
	if err := pushIfMissing(ctx, BaseImage(), baseImage); err != nil {
		return fmt.Errorf("base image: %w", err)
	}
	return pushIfMissing(ctx, pauseImage(), func() (v1.Image, error) {
		if err := pausePart.ensure(ctx, log); err != nil {
			return nil, err
		}
		bin, err := os.ReadFile(pausePart.Bin("pause"))
		if err != nil {
			return nil, err
		}
		img, err := imageWithFiles(map[string]tarFile{"pause": {mode: 0o755, data: bin}})
		if err != nil {
			return nil, err
		}
		return withConfig(img, func(c *v1.Config) { c.Entrypoint = []string{"/pause"}; c.User = "65535:65535" })
	})
}

func pushIfMissing(ctx context.Context, ref string, build func() (v1.Image, error)) error {
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return err
	}
	if _, err := remote.Head(tag, remote.WithContext(ctx)); err == nil {
		return nil
	}
	img, err := build()
	if err != nil {
		return err
	}
	return remote.Write(tag, img, remote.WithContext(ctx))
}

// baseImage is a minimal root file system for static Go binaries: users,
// /tmp and the host's CA bundle (for clients of TLS registries and APIs).
func baseImage() (v1.Image, error) {
	files := map[string]tarFile{
		"etc/passwd":        {mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		"etc/group":         {mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		"etc/nsswitch.conf": {mode: 0o644, data: []byte("hosts: files dns\n")},
		"tmp/":              {mode: 0o1777, dir: true},
		"home/nonroot/":     {mode: 0o755, dir: true, uid: 65532},
	}
	if ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		files["etc/ssl/certs/ca-certificates.crt"] = tarFile{mode: 0o644, data: ca}
	}
	img, err := imageWithFiles(files)
	if err != nil {
		return nil, err
	}
	return withConfig(img, func(c *v1.Config) {
		c.User = "65532:65532"
		c.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	})
}

type tarFile struct {
	mode int64
	data []byte
	dir  bool
	uid  int
}

func imageWithFiles(files map[string]tarFile) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, path := range sortedKeys(files) {
		f := files[path]
		hdr := &tar.Header{Name: path, Mode: f.mode, Size: int64(len(f.data)), Uid: f.uid, Gid: f.uid, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if f.dir {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(empty.Image, layer)
}

func withConfig(img v1.Image, edit func(*v1.Config)) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	edit(&cf.Config)
	return mutate.ConfigFile(img, cf)
}

// koEnv is the environment ko needs to build against the local registry,
// in dir. KO_CONFIG_PATH always names dir's own file: ko finds a ko.yaml
// (the repository's layout) only through it, and one inherited from a
// shell that ran `csclr dev env` must not reach KEDA's wrapper.
func koEnv(dir, repo string) []string {
	env := []string{"KO_DOCKER_REPO=" + repo, "KO_DEFAULTBASEIMAGE=" + BaseImage(), "CGO_ENABLED=0"}
	if path := koConfigPath(dir); path != "" {
		env = append(env, "KO_CONFIG_PATH="+path)
	}
	return env
}

// koConfigPath is dir's ko configuration file, .ko.yaml before ko.yaml, or
// "" when it has none.
func koConfigPath(dir string) string {
	for _, name := range []string{".ko.yaml", "ko.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return ""
}

// koBuild builds Go main packages (import paths resolvable in dir's module)
// into images and returns their references with digests.
func koBuild(ctx context.Context, log io.Writer, dir, repo string, importPaths ...string) ([]string, error) {
	args := append([]string{"build", "--base-import-paths", "--insecure-registry", "--tags", imageTag, "--platform", "linux/" + runtime.GOARCH}, importPaths...)
	var out bytes.Buffer
	err := buildHugePages.during(ctx, NewProgress(log), func() error {
		compileErr := precompile(ctx, log, dir, importPaths...)
		if err := runLoggedOut(ctx, log, &out, dir, koEnv(dir, repo), koPart.Bin("ko"), args...); err != nil {
			if compileErr != nil {
				return &compileError{err}
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return matchKoRefs(importPaths, strings.Fields(out.String()))
}

// matchKoRefs orders ko's printed references like importPaths: ko prints
// them as builds finish, and with --base-import-paths each repository ends
// in the last element of its import path.
func matchKoRefs(importPaths, printed []string) ([]string, error) {
	byBase := map[string]string{}
	for _, ref := range printed {
		repo := ref
		if at := strings.LastIndex(repo, "@"); at >= 0 {
			repo = repo[:at]
		}
		if colon := strings.LastIndex(repo, ":"); colon > strings.LastIndex(repo, "/") {
			repo = repo[:colon]
		}
		byBase[path.Base(repo)] = ref
	}
	refs := make([]string, len(importPaths))
	for i, ip := range importPaths {
		ref, ok := byBase[path.Base(ip)]
		if !ok {
			return nil, fmt.Errorf("ko printed no image for %s: %q", ip, printed)
		}
		refs[i] = ref
	}
	return refs, nil
}

// koResolve builds every ko:// image referenced by the YAML in path and
// returns the YAML with digests.
func koResolve(ctx context.Context, log io.Writer, dir, path string) ([]byte, error) {
	var out bytes.Buffer
	resolve := []string{"resolve", "--base-import-paths", "--insecure-registry", "--tags", imageTag, "--platform", "linux/" + runtime.GOARCH, "-f", path}
	err := buildHugePages.during(ctx, NewProgress(log), func() error {
		if refs, err := koReferences(path); err == nil {
			precompile(ctx, log, dir, refs...)
		}
		return runLoggedOut(ctx, log, &out, dir, koEnv(dir, KoRepo()), koPart.Bin("ko"), resolve...)
	})
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// precompile compiles, without linking, the packages ko is about to build,
// in one go command that shares the work between both cores. ko runs one
// `go build` per image at once, and concurrent builds each compile the
// packages they share (most of them: client-go, KEDA's scalers): on a cold
// cache that doubled the CPU time of KEDA's images. With the cache warm,
// ko's builds only link. The flags are those ko passes (.ko.yaml's
// defaultFlags and -trimpath) so that the cache entries match. A failure
// is only logged (ko reports the same one with its context) and returned.
func precompile(ctx context.Context, log io.Writer, dir string, importPaths ...string) error {
	if len(importPaths) < 2 {
		return nil
	}
	args := []string{"list", "-export", "-deps", "-trimpath"}
	if flags := koDefaultFlags(dir); len(flags) > 0 {
		args = append(args, flags...)
	}
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	err := runLoggedOut(ctx, log, io.Discard, dir, env, "go", append(args, importPaths...)...)
	if err != nil {
		fmt.Fprintf(log, "precompiling %v: %v (ko builds them anyway)\n", importPaths, err)
	}
	return err
}

// A compileError is a failed ko build whose packages did not compile
// either (precompile failed too), rather than, say, a failed push.
type compileError struct{ error }

func (e *compileError) Unwrap() error { return e.error }

// A prepareError is a wrapper module that did not resolve (go mod tidy).
type prepareError struct{ error }

func (e *prepareError) Unwrap() error { return e.error }

// koDefaultFlags reads defaultFlags from the file koEnv makes ko read.
func koDefaultFlags(dir string) []string {
	path := koConfigPath(dir)
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var cfg struct {
		DefaultFlags []string `json:"defaultFlags"`
	}
	if yaml.Unmarshal(data, &cfg) != nil {
		return nil
	}
	return cfg.DefaultFlags
}

// koReferences lists the import paths of the ko:// images the YAML files
// in path (a file or a directory) name.
func koReferences(path string) ([]string, error) {
	files := []string{path}
	if info, err := os.Stat(path); err != nil {
		return nil, err
	} else if info.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.yaml"))
	}
	seen := map[string]bool{}
	var refs []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range koReference.FindAllStringSubmatch(string(data), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				refs = append(refs, m[1])
			}
		}
	}
	return refs, nil
}

var koReference = regexp.MustCompile(`ko://([A-Za-z0-9._~/-]+)`)

// cachedImages remembers images built from a pinned module (KEDA), so a warm
// start only checks they are still in the registry.
func cachedImages(ctx context.Context, file string, build func() (map[string]string, error)) (map[string]string, error) {
	if data, err := os.ReadFile(file); err == nil {
		var refs map[string]string
		if json.Unmarshal(data, &refs) == nil && allPresent(ctx, refs) {
			return refs, nil
		}
	}
	refs, err := build()
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(refs)
	return refs, os.WriteFile(file, data, 0o644)
}

func allPresent(ctx context.Context, refs map[string]string) bool {
	for _, ref := range refs {
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			return false
		}
		if _, err := remote.Head(r, remote.WithContext(ctx)); err != nil {
			return false
		}
	}
	return len(refs) > 0
}

// KoBuild builds one main package of the csclr repository at repoRoot into
// an image in the local registry and returns its reference with digest.
func KoBuild(ctx context.Context, repoRoot, importPath string, log io.Writer) (string, error) {
	if err := koPart.ensure(ctx, NewProgress(log)); err != nil {
		return "", err
	}
	refs, err := koBuild(ctx, log, repoRoot, KoRepo(), importPath)
	if err != nil {
		return "", err
	}
	return refs[0], nil
}
