package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"
)

// kubectl runs the cluster's own kubectl as the admin user.
func kubectl(ctx context.Context, l layout, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubernetesPart.Bin("kubectl"), append([]string{"--kubeconfig", l.kubeconfig()}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// apply server-side applies manifests (the CRDs are too large for the
// client-side last-applied annotation).
func apply(ctx context.Context, l layout, manifests []byte) error {
	_, err := kubectl(ctx, l, manifests, "apply", "--server-side", "--force-conflicts", "--field-manager=csclr-dev", "-f", "-")
	return err
}

func installCRDs(ctx context.Context, l layout) error {
	crds, err := RenderCRDs(ctx)
	if err != nil {
		return err
	}
	if err := apply(ctx, l, crds); err != nil {
		return err
	}
	_, err = kubectl(ctx, l, nil, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	return err
}

// installDNS points the kube-dns Service at CoreDNS on the node.
func installDNS(ctx context.Context, l layout, o Options) error {
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, app.kubernetes.io/managed-by: csclr-dev}
spec:
  clusterIP: %[1]s
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: csclr-dev}
addressType: IPv4
endpoints:
- addresses: [%[2]q]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
`, dnsServiceIP, o.NodeIP)
	return apply(ctx, l, []byte(manifest))
}

var kedaImages = map[string]string{
	"ghcr.io/kedacore/keda":                    kedaModule + "/cmd/operator",
	"ghcr.io/kedacore/keda-metrics-apiserver":  kedaModule + "/cmd/adapter",
	"ghcr.io/kedacore/keda-admission-webhooks": kedaModule + "/cmd/webhooks",
}

// kedaPart is KEDA's module with the replace and exclude its own go.mod
// needs; ko builds its commands into images from this wrapper.
var kedaPart = part{
	name: "keda", version: KEDAVersion,
	goMod: simpleGoMod(kedaModule, KEDAVersion,
		"replace github.com/nexus-rpc/nexus-proto-annotations v0.1.0 => github.com/nexus-rpc/nexus-proto-annotations v0.1.1-0.20260629224316-835bd8d49cb4",
		"exclude github.com/go-chi/chi/v5 v5.2.3"),
	binaries: kedaImages,
	// The flags csclr builds every cluster binary with (buildFlags):
	// KEDA's commands are large, and debug information is most of the
	// link time of a cold build.
	koConfig: "defaultFlags: [-gcflags=all=-dwarf=false]\ndefaultLdflags: [-s, -w]\n",
}

// installKEDA builds KEDA's images with ko (once), renders KEDA's own
// config/default with those images and applies it, as a user's install would.
// With csclr's checkout at repoRoot, KEDA is built with the requirements
// it shares with csclr raised to csclr's versions (kedaalign.go), so that
// csclr's images, built next, find most of their packages compiled; if
// KEDA does not build that way, it is built with its own.
func installKEDA(ctx context.Context, l layout, repoRoot string, log Logger) error {
	p, aligned := alignWith(ctx, kedaPart, repoRoot, log)
	refs, err := kedaImageRefs(ctx, p, repoRoot, log)
	var compileErr *compileError
	var prepareErr *prepareError
	if err != nil && aligned && ctx.Err() == nil && (errors.As(err, &compileErr) || errors.As(err, &prepareErr)) {
		// A compile error stays: remember it rather than spend the
		// compile time again at the next start.
		if compileErr != nil {
			_ = os.WriteFile(filepath.Join(p.dir(), failedFile), []byte(err.Error()+"\n"), 0o644)
		}
		log.Printf("KEDA did not build with its requirements raised to csclr's versions (%s; log %s): building it with its own",
			firstLine(err.Error()), p.logPath())
		refs, err = kedaImageRefs(ctx, kedaPart, "", log)
	}
	if err != nil {
		return err
	}
	dirs, err := ModuleDirs(ctx, kedaModule)
	if err != nil {
		return err
	}
	manifests, err := renderKEDA(filepath.Join(dirs[kedaModule], "config/default"), refs)
	if err != nil {
		return fmt.Errorf("rendering KEDA's config/default: %w", err)
	}
	return apply(ctx, l, manifests)
}

// kedaImageRefs builds KEDA's images from the wrapper p unless they are
// in the registry from an earlier build of p.
func kedaImageRefs(ctx context.Context, p part, repoRoot string, log Logger) (map[string]string, error) {
	return cachedImages(ctx, filepath.Join(p.dir(), "images.json"), func() (map[string]string, error) {
		start := time.Now()
		how := "its own requirements"
		if p.version != KEDAVersion {
			how = "requirements raised to csclr's versions, " + filepath.Join(p.dir(), alignedFile)
		}
		log.Printf("building KEDA %s images with ko (first time only; %s; log %s)", KEDAVersion, how, p.logPath())
		if err := p.prepare(ctx); err != nil {
			return nil, &prepareError{err}
		}
		if repoRoot != "" {
			logGraphDifferences(ctx, p, repoRoot)
		}
		logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		names := sortedKeys(kedaImages)
		var paths []string
		for _, n := range names {
			paths = append(paths, kedaImages[n])
		}
		built, err := koBuild(ctx, logf, filepath.Join(p.dir(), "src"), RegistryAddr+"/keda", paths...)
		if err != nil {
			return nil, fmt.Errorf("building KEDA images: %w (log %s)", err, p.logPath())
		}
		refs := map[string]string{}
		for i, n := range names {
			refs[n] = built[i]
		}
		log.Printf("built KEDA images in %s", time.Since(start).Round(time.Second))
		return refs, nil
	})
}

func renderKEDA(configDir string, refs map[string]string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "csclr-keda-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Kustomize takes only relative resource paths.
	rel, err := filepath.Rel(dir, configDir)
	if err != nil {
		return nil, err
	}
	k := types.Kustomization{
		Resources: []string{rel},
		// KEDA's manifests name the binary's path in its own Dockerfile
		// image (/keda, ...); ko's images start theirs by entrypoint.
		Patches: []types.Patch{{
			Patch:  "- op: remove\n  path: /spec/template/spec/containers/0/command\n",
			Target: &types.Selector{ResId: resid.ResId{Gvk: resid.Gvk{Group: "apps", Kind: "Deployment"}}},
		}},
	}
	for image, ref := range refs {
		at := strings.LastIndex(ref, "@")
		if at < 0 {
			return nil, fmt.Errorf("image %q has no digest", ref)
		}
		k.Images = append(k.Images, types.Image{Name: image, NewName: ref[:at], Digest: ref[at+1:]})
	}
	k.FixKustomization()
	data, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), data, 0o644); err != nil {
		return nil, err
	}
	// The resources live in the module cache, outside the overlay's root.
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return resMap.AsYaml()
}

// waitKEDA waits until KEDA's deployments are available and the external
// metrics APIService answers.
func waitKEDA(ctx context.Context, l layout) error {
	if _, err := kubectl(ctx, l, nil, "-n", "keda", "wait", "--for=condition=Available", "deployment", "--all", "--timeout=180s"); err != nil {
		pods, _ := kubectl(ctx, l, nil, "-n", "keda", "get", "pods", "-o", "wide")
		return fmt.Errorf("%w\n%s(logs: kubectl -n keda logs deploy/keda-operator)", err, pods)
	}
	_, err := kubectl(ctx, l, nil, "wait", "--for=condition=Available", "apiservice/v1beta1.external.metrics.k8s.io", "--timeout=120s")
	return err
}

// installCsclr builds csclr's components with ko and applies config/core.
func installCsclr(ctx context.Context, l layout, o Options, log io.Writer) error {
	dir := filepath.Join(o.RepoRoot, "config", "core")
	if o.RepoRoot == "" {
		return fmt.Errorf("csclr's repository was not found from the working directory: run from the checkout or pass --skip-csclr")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(matches) == 0 {
		return nil
	}
	resolved, err := koResolve(ctx, log, o.RepoRoot, dir)
	if err != nil {
		return err
	}
	if err := apply(ctx, l, resolved); err != nil {
		return err
	}
	// The admission webhook fails closed: nothing can create a Knative
	// Service, nor change csclr's config maps, until the controller serves it.
	if strings.Contains(string(resolved), "kind: Deployment") {
		if _, err := kubectl(ctx, l, nil, "-n", csclrNamespace, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=240s"); err != nil {
			pods, _ := kubectl(ctx, l, nil, "-n", csclrNamespace, "get", "pods", "-o", "wide")
			return fmt.Errorf("%w\n%s", err, pods)
		}
	}
	return retryWhileWebhookStarts(ctx, func() error {
		if err := skipLocalRegistryResolution(ctx, l); err != nil {
			return err
		}
		// Revisions may start at zero pods here, so that the sample's first
		// request is a cold start through the activator.
		_, err := kubectl(ctx, l, nil, "-n", csclrNamespace, "patch", "configmap", "config-autoscaler", "--type=merge",
			"-p", `{"data":{"allow-zero-initial-scale":"true"}}`)
		return err
	})
}

// retryWhileWebhookStarts runs f until it succeeds, for up to a minute while
// it fails because the admission webhook is not answering yet: an available
// controller may still be writing its CA into the webhook configurations.
func retryWhileWebhookStarts(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}

// skipLocalRegistryResolution adds the local registry to the registries
// whose tags the controller does not resolve to digests: the registry
// listens on the host's loopback, which containerd reaches and a controller
// pod does not (as Knative skips kind.local for kind's registry).
func skipLocalRegistryResolution(ctx context.Context, l layout) error {
	const key = "registries-skipping-tag-resolving"
	current, err := kubectl(ctx, l, nil, "-n", csclrNamespace, "get", "configmap", "config-deployment", "-o", "jsonpath={.data."+key+"}")
	if err != nil {
		return nil // no config-deployment in config/core yet
	}
	list := strings.TrimSpace(current)
	if list == "" {
		list = "kind.local,ko.local,dev.local"
	}
	if slices.Contains(strings.Split(list, ","), RegistryAddr) {
		return nil
	}
	patch := fmt.Sprintf(`{"data":{%q:%q}}`, key, list+","+RegistryAddr)
	_, err = kubectl(ctx, l, nil, "-n", csclrNamespace, "patch", "configmap", "config-deployment", "--type=merge", "-p", patch)
	return err
}

// csclrNamespace is where config/core installs csclr.
const csclrNamespace = "csclr-system"

func waitNodeReady(ctx context.Context, l layout, node string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := kubectl(ctx, l, nil, "get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err == nil && strings.TrimSpace(out) == "True" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not Ready after 60s (%v %s): read %s", node, err, out, l.logFile("kubelet"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
