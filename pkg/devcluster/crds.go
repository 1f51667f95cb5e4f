package devcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// crdModules are the modules csclr takes its CRDs from, read from the module
// cache at the versions go.mod pins, so the cluster serves exactly the schemas
// (and pruning) of the code that talks to it.
var crdModules = []string{"knative.dev/serving", kedaModule, "sigs.k8s.io/gateway-api"}

// knativeCRDs are the Knative Serving kinds csclr reconciles.
var knativeCRDs = []string{"service", "configuration", "revision", "route"}

// gatewayCRDs are the Gateway API standard-channel kinds csclr writes or that
// meshes reading HTTPRoutes expect to exist.
var gatewayCRDs = []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"}

// RenderCRDs returns one multi-document YAML with every CRD csclr needs:
// Knative Serving's four kinds, KEDA's CRDs with their kustomize patches and
// the Gateway API standard kinds.
func RenderCRDs(ctx context.Context) ([]byte, error) {
	dirs, err := ModuleDirs(ctx, crdModules...)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, kind := range knativeCRDs {
		if err := appendFile(&out, filepath.Join(dirs["knative.dev/serving"], "config/core/300-resources", kind+".yaml")); err != nil {
			return nil, err
		}
	}
	keda, err := kustomize(filepath.Join(dirs[kedaModule], "config/crd"))
	if err != nil {
		return nil, fmt.Errorf("rendering KEDA CRDs: %w", err)
	}
	writeDoc(&out, keda)
	for _, kind := range gatewayCRDs {
		f := filepath.Join(dirs["sigs.k8s.io/gateway-api"], "config/crd/standard", "gateway.networking.k8s.io_"+kind+".yaml")
		if err := appendFile(&out, f); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// WriteCRDs renders the CRDs into dir/crds.yaml and returns the file's path.
func WriteCRDs(ctx context.Context, dir string) (string, error) {
	data, err := RenderCRDs(ctx)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "crds.yaml")
	return path, os.WriteFile(path, data, 0o644)
}

func appendFile(out *bytes.Buffer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading CRD from the module cache: %w", err)
	}
	writeDoc(out, data)
	return nil
}

func writeDoc(out *bytes.Buffer, data []byte) {
	if out.Len() > 0 {
		out.WriteString("\n---\n")
	}
	out.Write(bytes.TrimSpace(data))
	out.WriteString("\n")
}

func kustomize(dir string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	resources, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return resources.AsYaml()
}

// ModuleDirs returns the module-cache directory of each module at the version
// this build of csclr was compiled with (or, for `go run`/tests inside the
// repository, the version go.mod selects), downloading it if needed.
func ModuleDirs(ctx context.Context, modules ...string) (map[string]string, error) {
	versions := builtVersions()
	dirs := make(map[string]string, len(modules))
	for _, mod := range modules {
		query := mod
		if v := versions[mod]; v != "" {
			query = mod + "@" + v
		} else if root := RepoRoot(); root != "" {
			v, err := goCmd(ctx, root, "list", "-m", "-f", "{{.Version}}", mod)
			if err != nil {
				return nil, fmt.Errorf("finding the version of %s in %s/go.mod: %w", mod, root, err)
			}
			query = mod + "@" + strings.TrimSpace(v)
		} else {
			return nil, fmt.Errorf("cannot tell which version of %s to use: run csclr from its repository or build it with modules", mod)
		}
		data, err := goCmd(ctx, os.TempDir(), "mod", "download", "-json", query)
		if err != nil {
			return nil, fmt.Errorf("downloading %s: %w", query, err)
		}
		var info struct{ Dir, Error string }
		if err := json.Unmarshal([]byte(data), &info); err != nil || info.Dir == "" {
			return nil, fmt.Errorf("downloading %s: %s", query, info.Error)
		}
		dirs[mod] = info.Dir
	}
	return dirs, nil
}

func builtVersions() map[string]string {
	versions := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return versions
	}
	for _, dep := range info.Deps {
		if dep.Replace != nil {
			dep = dep.Replace
		}
		versions[dep.Path] = dep.Version
	}
	return versions
}

// RepoRoot returns the root of the csclr repository containing the working
// directory, or "" when csclr runs elsewhere.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module csclr.dev/csclr")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
