package devcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeConfigs renders every configuration file the cluster's processes read.
func writeConfigs(l layout, o Options) error {
	files := map[string]string{
		l.kubeconfig():                      kubeconfig(l, "admin", fmt.Sprintf("https://127.0.0.1:%d", apiserverPort)),
		l.path("containerd", "config.toml"): containerdConfig(l),
		l.path("containerd", "certs.d", RegistryAddr, "hosts.toml"): registryHosts(),
		filepath.Join(l.cniConfDir(), "10-"+cniNetwork+".conflist"): cniConfig(l),
		l.path("kubelet", "config.yaml"):                            kubeletConfig(l),
		l.path("kube-proxy", "config.yaml"):                         kubeProxyConfig(l, o),
		l.path("coredns", "Corefile"):                               corefile(l, o),
		l.path("scheduler", "config.yaml"):                          schedulerConfig(l),
	}
	for _, c := range []string{"controller-manager", "scheduler", "kube-proxy", "coredns"} {
		files[l.componentKubeconfig(c)] = kubeconfig(l, c, fmt.Sprintf("https://127.0.0.1:%d", apiserverPort))
	}
	// The kubelet reaches the apiserver on the node IP, the address it
	// registers with, so the same certificate serves every caller.
	files[l.componentKubeconfig("kubelet")] = kubeconfig(l, "kubelet-client", fmt.Sprintf("https://%s:%d", o.NodeIP, apiserverPort))
	for path, content := range files {
		if err := writeIfChanged(path, content); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged leaves an unchanged file alone: kube-proxy exits when its
// configuration file is rewritten, even with the same content.
func writeIfChanged(path, content string) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o600)
}

func kubeconfig(l layout, user, server string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: csclr-dev
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: csclr-dev
  context: {cluster: csclr-dev, user: %s}
current-context: csclr-dev
`, server, l.pki("ca.crt"), user, l.pki(user+".crt"), l.pki(user+".key"), user)
}

// containerdConfig keeps containerd's root, state and socket inside the
// cluster's directory. restrict_oom_score_adj is needed on VMs without
// CAP_SYS_RESOURCE, where runc cannot lower oom_score_adj.
func containerdConfig(l layout) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, l.path("containerd", "root"), l.path("containerd", "state"), l.containerdSocket(),
		l.containerdSocket()+".ttrpc", l.path("containerd", "opt"), pauseImage(),
		l.cniConfDir(), l.path("containerd", "certs.d"))
}

func registryHosts() string {
	return fmt.Sprintf(`server = "http://%[1]s"

[host."http://%[1]s"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`, RegistryAddr)
}

func cniConfig(l layout) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, cniNetwork, cniBridge, podCIDR, l.path("cni", "ipam"))
}

// kubeletConfig: failCgroupV1 false because these VMs mount cgroups v1;
// eviction thresholds low so a full-ish disk of a developer machine does not
// evict the cluster's own pods.
func kubeletConfig(l layout) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://%s
port: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization: {mode: Webhook}
tlsCertFile: %s
tlsPrivateKeyFile: %s
clusterDomain: %s
clusterDNS: [%s]
failSwapOn: false
resolvConf: /etc/resolv.conf
serializeImagePulls: false
maxPods: 250
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
shutdownGracePeriod: 0s
`, l.containerdSocket(), kubeletPort, kubeletHealthPort, l.pki("ca.crt"), l.pki("kubelet.crt"), l.pki("kubelet.key"),
		clusterDomain, dnsServiceIP)
}

func kubeProxyConfig(l layout, o Options) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
mode: iptables
clusterCIDR: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
conntrack:
  maxPerCore: 0
nodePortAddresses: [primary]
iptables:
  localhostNodePorts: false
`, l.componentKubeconfig("kube-proxy"), o.NodeName, clusterCIDR, proxyHealthPort, proxyMetricsPort)
}

func schedulerConfig(l layout) string {
	return fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %s
leaderElection:
  leaderElect: false
`, l.componentKubeconfig("scheduler"))
}

// corefile serves cluster DNS on the node IP; the kube-dns Service's
// endpoints point there, so pods resolve Service names.
func corefile(l layout, o Options) string {
	return fmt.Sprintf(`.:%d {
    bind %s
    errors
    cache 5
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s csclr-dev
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . /etc/resolv.conf
}
`, dnsPort, o.NodeIP, clusterDomain, l.componentKubeconfig("coredns"))
}

// flagList renders flags in a stable order for logs.
func flagList(flags map[string]string) []string {
	out := make([]string, 0, len(flags))
	for _, k := range sortedKeys(flags) {
		out = append(out, "--"+k+"="+flags[k])
	}
	return out
}

func joinComma(s ...string) string { return strings.Join(s, ",") }
