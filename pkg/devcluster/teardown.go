package devcluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// hostPaths are fixed host locations containerd, the kubelet and CNI write
// to whatever their configured roots. Those that did not exist before `up`
// are recorded and removed by `down`; pre-existing ones are left alone.
var hostPaths = []string{"/run/containerd", "/var/lib/cni", "/var/log/containers", "/var/log/pods", "/var/lib/kubelet"}

func (l layout) createdPathsFile() string { return l.path("created-host-paths") }

// recordHostPaths notes which host paths are absent before the node starts.
func recordHostPaths(l layout) error {
	if _, err := os.Stat(l.createdPathsFile()); err == nil {
		return nil // an earlier `up` of this cluster already recorded them
	}
	var absent []string
	for _, p := range hostPaths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			absent = append(absent, p)
		}
	}
	if exec.Command("iptables", "-t", "mangle", "-n", "-L", "KUBE-KUBELET-CANARY").Run() != nil {
		absent = append(absent, kubeletChainsMarker)
	}
	return os.WriteFile(l.createdPathsFile(), []byte(strings.Join(absent, "\n")), 0o644)
}

// kubeletChainsMarker, among the recorded host paths, says the kubelet's
// iptables chains did not exist before the cluster's kubelet made them.
const kubeletChainsMarker = "iptables:kubelet-chains"

// removeKubeletChains removes the chains the kubelet creates in every
// table (kube-proxy --cleanup leaves them) and the jumps to them.
func removeKubeletChains(ctx context.Context) {
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			_ = exec.CommandContext(ctx, bin, "-t", "filter", "-D", hook, "-j", "KUBE-FIREWALL").Run()
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			for _, chain := range []string{"KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"} {
				_ = exec.CommandContext(ctx, bin, "-t", table, "-F", chain).Run()
				_ = exec.CommandContext(ctx, bin, "-t", table, "-X", chain).Run()
			}
		}
	}
}

// removePods stops and removes every pod sandbox through the CRI, which
// makes containerd kill the containers, unmount their file systems and run
// CNI DEL (releasing IPs and the per-pod NAT rules).
func removePods(ctx context.Context, l layout) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+l.containerdSocket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := cri.NewRuntimeServiceClient(conn)
	pods, err := rt.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing pods through the CRI: %w", err)
	}
	var errs []string
	for _, p := range pods.Items {
		if _, err := rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("removing pods: %s", strings.Join(errs, "; "))
	}
	return nil
}

// killPodProcesses kills what a crashed containerd may have left in the
// kubelet's pod cgroups. Only for a cluster that ran the node: the cgroups
// are the machine's, not the cluster's.
func killPodProcesses() {
	for _, pid := range kubepodsPids() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// killStragglers kills the processes whose command line names the cluster's
// state directory, such as containerd shims serving its socket.
func killStragglers(l layout) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || pid == os.Getppid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), l.root+string(filepath.Separator)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func kubepodsPids() []int {
	var pids []int
	_ = filepath.WalkDir("/sys/fs/cgroup/pids/kubepods", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// removeKubepodsCgroups removes the kubelet's cgroup trees (deepest first);
// they are empty once the pods' processes are gone.
func removeKubepodsCgroups() {
	controllers, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range controllers {
		root := filepath.Join("/sys/fs/cgroup", c.Name(), "kubepods")
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = syscall.Rmdir(dirs[i])
		}
	}
}

// unmountUnder detaches every mount below the given prefixes, deepest first.
func unmountUnder(prefixes ...string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		for _, p := range prefixes {
			if mp == p || strings.HasPrefix(mp, strings.TrimSuffix(p, "/")+"/") {
				points = append(points, mp)
				break
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var failed []string
	for _, mp := range points {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
			failed = append(failed, mp+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("unmounting: %s", strings.Join(failed, "; "))
	}
	return nil
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// cleanNetwork removes the cluster's network leftovers: kube-proxy's rules
// (its own --cleanup), the CNI bridge and the network namespaces CNI made.
func cleanNetwork(ctx context.Context, l layout) []string {
	var problems []string
	if _, err := os.Stat(kubernetesPart.Bin("kube-proxy")); err == nil {
		cmd := exec.CommandContext(ctx, kubernetesPart.Bin("kube-proxy"), "--cleanup")
		if out, err := cmd.CombinedOutput(); err != nil {
			problems = append(problems, fmt.Sprintf("kube-proxy --cleanup: %v: %s", err, tailString(string(out), 300)))
		}
	}
	if _, err := os.Stat("/sys/class/net/" + cniBridge); err == nil {
		if out, err := exec.CommandContext(ctx, "ip", "link", "delete", cniBridge).CombinedOutput(); err != nil {
			problems = append(problems, fmt.Sprintf("deleting %s: %v: %s", cniBridge, err, out))
		}
	}
	netns, _ := filepath.Glob("/run/netns/cni-*")
	for _, ns := range netns {
		_ = syscall.Unmount(ns, syscall.MNT_DETACH)
		_ = os.Remove(ns)
	}
	return problems
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
