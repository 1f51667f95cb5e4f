package devcluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Options configure a local cluster.
type Options struct {
	// StateDir holds everything a running cluster writes: PKI, etcd data,
	// containerd and kubelet state, logs, pid files and the kubeconfig.
	StateDir string
	// NodeIP is the address pods reach the host on; detected when empty.
	NodeIP string
	// NodeName is the Kubernetes node's name.
	NodeName string
	// ControlPlaneOnly starts etcd and kube-apiserver only.
	ControlPlaneOnly bool
	// SkipCsclr leaves csclr's own components uninstalled.
	SkipCsclr bool
	// RepoRoot is the csclr checkout whose config/core is installed; found
	// from the working directory when empty.
	RepoRoot string
}

// Fixed addresses of the local cluster; a busy one is reported, never reused.
const (
	etcdClientPort    = 2379
	etcdPeerPort      = 2380
	apiserverPort     = 6443
	registryPort      = 5000
	kubeletPort       = 10250
	kubeletHealthPort = 10248
	controllerMgrPort = 10257
	schedulerPort     = 10259
	proxyHealthPort   = 10256
	proxyMetricsPort  = 10249
	dnsPort           = 53

	serviceCIDR   = "10.96.0.0/16"
	apiServiceIP  = "10.96.0.1"
	dnsServiceIP  = "10.96.0.10"
	podCIDR       = "10.244.0.0/24"
	clusterCIDR   = "10.244.0.0/16"
	clusterDomain = "cluster.local"
	cniBridge     = "cni0"
	cniNetwork    = "csclr"
)

// RegistryAddr is where the local OCI registry listens (host side; containerd
// pulls from it on the same address).
var RegistryAddr = fmt.Sprintf("127.0.0.1:%d", registryPort)

// DefaultStateDir is $CSCLR_DEV_DIR, or ~/.local/state/csclr/dev.
func DefaultStateDir() string {
	if d := os.Getenv("CSCLR_DEV_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "csclr-dev")
	}
	return filepath.Join(home, ".local", "state", "csclr", "dev")
}

// layout names every file and directory of a cluster's state.
type layout struct{ root string }

func (l layout) path(parts ...string) string {
	return filepath.Join(append([]string{l.root}, parts...)...)
}

func (l layout) pki(name string) string     { return l.path("pki", name) }
func (l layout) logFile(name string) string { return l.path("logs", name+".log") }
func (l layout) pidFile(name string) string { return l.path("run", name+".pid") }
func (l layout) kubeconfig() string         { return l.path("kubeconfig") }
func (l layout) componentKubeconfig(n string) string {
	return l.path("kubeconfigs", n+".kubeconfig")
}
func (l layout) containerdSocket() string { return l.path("containerd", "containerd.sock") }
func (l layout) cniConfDir() string       { return l.path("cni", "net.d") }
func (l layout) envFile() string          { return l.path("env") }
func (l layout) registryDirFile() string  { return l.path("registry-dir") }

func (o *Options) complete() error {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return err
	}
	o.StateDir = abs
	if o.NodeName == "" {
		o.NodeName = "csclr-dev"
	}
	if o.NodeIP == "" {
		ip, err := detectNodeIP()
		if err != nil {
			return err
		}
		o.NodeIP = ip
	}
	if net.ParseIP(o.NodeIP) == nil {
		return fmt.Errorf("node IP %q is not an IP address", o.NodeIP)
	}
	if o.RepoRoot == "" {
		o.RepoRoot = RepoRoot()
	}
	return nil
}

// detectNodeIP picks the address of the interface carrying the default
// route: pods reach the host (apiserver, DNS) through it.
func detectNodeIP() (string, error) {
	// Connecting a UDP socket sends nothing; it only selects the source
	// address the kernel would use.
	conn, err := net.Dial("udp4", "192.0.2.254:9")
	if err == nil {
		defer conn.Close()
		if ip := conn.LocalAddr().(*net.UDPAddr).IP; !ip.IsLoopback() {
			return ip.String(), nil
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() && !n.IP.IsLoopback() {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no non-loopback IPv4 address found for the node: pass --node-ip")
}
