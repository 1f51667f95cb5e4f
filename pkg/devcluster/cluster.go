// Package devcluster builds and runs csclr's local single-node Kubernetes
// cluster: every binary from the Go module proxy, containerd, runc and CNI
// from Debian packages, all state in one directory.
package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A step is one line of `dev up` progress.
type step struct {
	name string
	run  func(ctx context.Context) error
}

// Up builds what is missing, starts every process that is not running and
// installs the add-ons. Running it again on a running cluster changes
// nothing and only re-applies manifests.
func Up(ctx context.Context, o Options, log Logger) error {
	if err := o.complete(); err != nil {
		return err
	}
	l := layout{root: o.StateDir}
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, l.path(".lock"))
	if err != nil {
		return err
	}
	defer unlock()

	parts := controlPlaneParts
	if !o.ControlPlaneOnly {
		parts = append(parts, cranePart, koPart, coreDNSPart)
	}
	var steps []step
	if !o.ControlPlaneOnly {
		steps = append(steps, step{"preflight: root, Debian packages, cgroups", func(context.Context) error { return preflight() }})
	}
	for _, p := range parts {
		steps = append(steps, step{"build " + p.name + " " + p.version, func(ctx context.Context) error { return p.ensure(ctx, log) }})
	}
	steps = append(steps,
		step{"certificates and configuration", func(context.Context) error {
			if err := ensurePKI(l, o); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(registryDir(), "blobs"), 0o755); err != nil {
				return err
			}
			if err := writeIfChanged(l.registryDirFile(), registryDir()+"\n"); err != nil {
				return err
			}
			return writeConfigs(l, o)
		}},
	)
	if !o.ControlPlaneOnly {
		steps = append(steps, step{"host network settings", func(context.Context) error {
			if err := recordHostPaths(l); err != nil {
				return err
			}
			return hostNetworkSettings()
		}})
	}
	for _, d := range daemons(l, o) {
		steps = append(steps, step{"start " + d.name, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			defer cancel()
			return l.start(ctx, d, log)
		}})
		if d.name == "registry" {
			steps = append(steps, step{"registry images, base and pause images", func(ctx context.Context) error {
				if err := restoreRegistry(ctx); err != nil {
					log.Printf("warning: %v (images will be rebuilt)", err)
				}
				return ensureBaseImages(ctx, log)
			}})
		}
	}
	if !o.ControlPlaneOnly {
		steps = append(steps,
			step{"node " + o.NodeName + " Ready", func(ctx context.Context) error { return waitNodeReady(ctx, l, o.NodeName) }},
			step{"CRDs (Knative Serving, KEDA, Gateway API)", func(ctx context.Context) error { return installCRDs(ctx, l) }},
			step{"cluster DNS", func(ctx context.Context) error { return installDNS(ctx, l, o) }},
			step{"KEDA " + KEDAVersion, func(ctx context.Context) error { return installKEDA(ctx, l, o.RepoRoot, log) }},
		)
		if !o.SkipCsclr {
			steps = append(steps, step{"csclr (ko build + config/core)", func(ctx context.Context) error {
				logf, err := os.OpenFile(l.logFile("csclr-install"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					return err
				}
				defer logf.Close()
				if err := installCsclr(ctx, l, o, logf); err != nil {
					return fmt.Errorf("%w\n  log: %s", err, l.logFile("csclr-install"))
				}
				return nil
			}})
		}
		steps = append(steps, step{"KEDA available", func(ctx context.Context) error { return waitKEDA(ctx, l) }})
	}
	if !o.ControlPlaneOnly {
		steps = append(steps, step{"registry journal", func(ctx context.Context) error { return saveRegistry(ctx, registryDir()) }})
	}
	steps = append(steps, step{"write " + l.envFile(), func(context.Context) error { return writeEnvFile(l, o) }})

	for _, s := range steps {
		start := time.Now()
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("step %q failed: %w", s.name, err)
		}
		log.Printf("%-45s %6.1fs", s.name, time.Since(start).Seconds())
	}
	log.Printf("cluster ready: export KUBECONFIG=%s (or eval \"$(csclr dev env)\")", l.kubeconfig())
	return nil
}

// Down stops every process the cluster started, removes its pods, mounts,
// network leftovers and state directory. It never touches what it did not
// create. Built binaries and images stay cached.
func Down(ctx context.Context, o Options, log Logger) error {
	if err := o.complete(); err != nil {
		return err
	}
	l := layout{root: o.StateDir}
	if _, err := os.Stat(l.root); os.IsNotExist(err) {
		log.Printf("no cluster at %s", l.root)
		return nil
	}
	var problems []string
	note := func(err error) {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	// Clients of the apiserver first: an apiserver with clients still
	// connected takes a minute to drain.
	for _, name := range []string{"kubelet", "kube-proxy", "coredns", "kube-scheduler", "kube-controller-manager"} {
		if l.stop(name, 10*time.Second) {
			log.Printf("stopped %s", name)
		}
	}
	if _, ok := l.pid("containerd"); ok {
		if err := removePods(ctx, l); err != nil {
			note(err)
		} else {
			log.Printf("removed pods")
		}
	}
	if _, ok := l.pid("registry"); ok {
		note(saveRegistry(ctx, registryDirOf(l)))
	}
	for _, name := range []string{"containerd", "kube-apiserver", "etcd", "registry"} {
		if l.stop(name, 15*time.Second) {
			log.Printf("stopped %s", name)
		}
	}
	// Node clean-up only where this cluster ran a node (it recorded the
	// host paths then): kube-proxy's --cleanup would also remove the rules
	// of another cluster's kube-proxy on this machine, and the kubepods
	// cgroups hold every node's pods (a control-plane-only cluster's down
	// killed a running dev cluster's pods).
	createdPaths, err := os.ReadFile(l.createdPathsFile())
	ranNode := err == nil
	if ranNode {
		killPodProcesses()
	}
	killStragglers(l)
	note(unmountUnder(l.root))
	if ranNode {
		removeKubepodsCgroups()
		problems = append(problems, cleanNetwork(ctx, l)...)
		for _, p := range strings.Fields(string(createdPaths)) {
			if p == kubeletChainsMarker {
				removeKubeletChains(ctx)
				continue
			}
			note(unmountUnder(p))
			note(os.RemoveAll(p))
		}
	}
	note(os.RemoveAll(l.root))
	note(buildHugePages.restoreAbandoned(ctx))
	if len(problems) > 0 {
		return fmt.Errorf("cluster stopped, but some clean-up failed:\n  %s", strings.Join(problems, "\n  "))
	}
	log.Printf("cluster at %s removed", l.root)
	return nil
}

// ComponentStatus is one line of `dev status`.
type ComponentStatus struct {
	Name    string
	PID     int
	Running bool
}

// Status reports which of the cluster's processes run.
func Status(o Options) ([]ComponentStatus, error) {
	if err := o.complete(); err != nil {
		return nil, err
	}
	l := layout{root: o.StateDir}
	var out []ComponentStatus
	for _, d := range daemons(l, Options{NodeIP: o.NodeIP, NodeName: o.NodeName}) {
		pid, ok := l.pid(d.name)
		out = append(out, ComponentStatus{Name: d.name, PID: pid, Running: ok})
	}
	return out, nil
}

// Env returns the shell exports for using the cluster.
func Env(o Options) (string, error) {
	if err := o.complete(); err != nil {
		return "", err
	}
	data, err := os.ReadFile(layout{root: o.StateDir}.envFile())
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no cluster at %s: run `csclr dev up` first", o.StateDir)
	}
	return string(data), err
}

// Kubeconfig is the admin kubeconfig of the cluster in stateDir.
func Kubeconfig(stateDir string) string { return layout{root: stateDir}.kubeconfig() }

// KubectlPath is the cluster's own kubectl.
func KubectlPath() string { return kubernetesPart.Bin("kubectl") }

func writeEnvFile(l layout, o Options) error {
	lines := []string{
		"export KUBECONFIG=" + shellQuote(l.kubeconfig()),
		"export KO_DOCKER_REPO=" + shellQuote(KoRepo()),
		"export KO_DEFAULTBASEIMAGE=" + shellQuote(BaseImage()),
		"export PATH=" + shellQuote(kubernetesPart.binDir()+":"+koPart.binDir()) + `:"$PATH"`,
	}
	if path := koConfigPath(o.RepoRoot); o.RepoRoot != "" && path != "" {
		lines = append(lines, "export KO_CONFIG_PATH="+shellQuote(path)) // `ko apply` as `up` builds
	}
	if gw := gatewayAddress(l); gw != "" {
		lines = append(lines, "export CSCLR_GATEWAY="+gw)
	}
	return os.WriteFile(l.envFile(), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// gatewayService is the public entry of csclr's ingress class: the
// activator's public listener, where only public Routes' hosts resolve
// (config/core/400-activator.yaml).
const gatewayService = "csclr-gateway"

// gatewayAddress is where csclr's gateway (its public entry, the Service
// gatewayService) answers from the host: its ClusterIP, reachable through
// kube-proxy's rules.
func gatewayAddress(l layout) string {
	if _, err := os.Stat(kubernetesPart.Bin("kubectl")); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ip, err := kubectl(ctx, l, nil, "-n", csclrNamespace, "get", "service", gatewayService, "-o", "jsonpath={.spec.clusterIP}")
	if err != nil || strings.TrimSpace(ip) == "" {
		return ""
	}
	return strings.TrimSpace(ip) + ":80"
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// BinDir is where the cluster's Kubernetes binaries are cached.
func BinDir() string { return filepath.Clean(kubernetesPart.binDir()) }
