package devcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// debianPackages are the parts taken from the distribution rather than built:
// each with a file that shows it is installed.
var debianPackages = []struct{ name, file string }{
	{"containerd", "/usr/bin/containerd"},
	{"runc", "/usr/sbin/runc"},
	{"containernetworking-plugins", "/usr/lib/cni/bridge"},
	{"iptables", "/usr/sbin/iptables"},
	{"conntrack", "/usr/sbin/conntrack"},
	{"iproute2", "/usr/sbin/ip"},
}

// MissingPackages lists the Debian packages the node needs and lacks.
func MissingPackages() []string {
	var missing []string
	for _, p := range debianPackages {
		if _, err := os.Stat(p.file); err != nil {
			missing = append(missing, p.name)
		}
	}
	return missing
}

// InstallPackages installs the missing Debian packages with apt-get.
func InstallPackages(ctx context.Context, log Logger) error {
	missing := MissingPackages()
	if len(missing) == 0 {
		log.Printf("Debian packages: all present")
		return nil
	}
	log.Printf("installing Debian packages: %s", strings.Join(missing, " "))
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	if err := runLogged(ctx, os.Stderr, "/", env, "apt-get", "update"); err != nil {
		return err
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	return runLogged(ctx, os.Stderr, "/", env, "apt-get", args...)
}

func preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the local cluster runs containerd and the kubelet, which need root: run as root")
	}
	if missing := MissingPackages(); len(missing) > 0 {
		return fmt.Errorf("missing Debian package(s): %s; install them with `csclr dev deps` (apt-get install %s)",
			strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err2 := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err2 != nil {
			return fmt.Errorf("no cgroup file system at /sys/fs/cgroup: the kubelet needs cgroups (v1 or v2)")
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("the go command is not on PATH: csclr builds the cluster's parts with it")
	}
	return nil
}

// hostNetworkSettings turns on forwarding and bridge netfilter, without
// which pod-to-Service traffic on the CNI bridge bypasses kube-proxy.
func hostNetworkSettings() error {
	settings := map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                 "1",
		"/proc/sys/net/bridge/bridge-nf-call-iptables":  "1",
		"/proc/sys/net/bridge/bridge-nf-call-ip6tables": "1",
	}
	for path, value := range settings {
		if _, err := os.Stat(path); err != nil {
			continue // br_netfilter not present: bridged traffic is routed instead
		}
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("setting %s=%s: %w", path, value, err)
		}
	}
	return nil
}
