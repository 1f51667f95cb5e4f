package devcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// daemons returns the cluster's processes in start order.
func daemons(l layout, o Options) []daemon {
	k := kubernetesPart
	list := []daemon{
		{
			name: "etcd", bin: etcdPart.Bin("etcd"),
			args: flagList(map[string]string{
				"name":                        "csclr-dev",
				"data-dir":                    l.path("etcd"),
				"listen-client-urls":          fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort),
				"advertise-client-urls":       fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort),
				"listen-peer-urls":            fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort),
				"initial-advertise-peer-urls": fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort),
				"initial-cluster":             fmt.Sprintf("csclr-dev=http://127.0.0.1:%d", etcdPeerPort),
				"unsafe-no-fsync":             "true",
				"quota-backend-bytes":         strconv.Itoa(4 << 30),
				"log-level":                   "warn",
			}),
			ports: []int{etcdClientPort, etcdPeerPort},
			ready: httpReady(fmt.Sprintf("http://127.0.0.1:%d/health", etcdClientPort)),
		},
		{
			name: "kube-apiserver", bin: k.Bin("kube-apiserver"),
			args: flagList(map[string]string{
				"etcd-servers":                       fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort),
				"bind-address":                       "0.0.0.0",
				"secure-port":                        strconv.Itoa(apiserverPort),
				"advertise-address":                  o.NodeIP,
				"service-cluster-ip-range":           serviceCIDR,
				"client-ca-file":                     l.pki("ca.crt"),
				"tls-cert-file":                      l.pki("apiserver.crt"),
				"tls-private-key-file":               l.pki("apiserver.key"),
				"service-account-key-file":           l.pki("sa.pub"),
				"service-account-signing-key-file":   l.pki("sa.key"),
				"service-account-issuer":             "https://kubernetes.default.svc." + clusterDomain,
				"authorization-mode":                 "Node,RBAC",
				"kubelet-client-certificate":         l.pki("apiserver-kubelet-client.crt"),
				"kubelet-client-key":                 l.pki("apiserver-kubelet-client.key"),
				"kubelet-preferred-address-types":    "InternalIP,Hostname",
				"requestheader-client-ca-file":       l.pki("front-proxy-ca.crt"),
				"requestheader-allowed-names":        "front-proxy-client",
				"requestheader-extra-headers-prefix": "X-Remote-Extra-",
				"requestheader-group-headers":        "X-Remote-Group",
				"requestheader-username-headers":     "X-Remote-User",
				"proxy-client-cert-file":             l.pki("front-proxy-client.crt"),
				"proxy-client-key-file":              l.pki("front-proxy-client.key"),
				"enable-aggregator-routing":          "true",
				"allow-privileged":                   "true",
				"event-ttl":                          "1h",
				// profiling stays on (the default): /debug/pprof is how the
				// control-plane benchmark finds where the API server's CPU goes.
			}),
			ports: []int{apiserverPort},
			ready: apiReady(l, "/readyz"),
			hint:  "check the etcd log in the same folder; a stale cluster from another user? run `csclr dev down`",
		},
	}
	if o.ControlPlaneOnly {
		return list
	}
	return append(list,
		daemon{
			name: "registry", bin: cranePart.Bin("crane"),
			args:  []string{"registry", "serve", "--address", RegistryAddr, "--disk", filepath.Join(registryDir(), "blobs")},
			ports: []int{registryPort}, ready: httpReady("http://" + RegistryAddr + "/v2/"),
		},
		daemon{
			name: "kube-controller-manager", bin: k.Bin("kube-controller-manager"),
			args: flagList(map[string]string{
				"kubeconfig":                       l.componentKubeconfig("controller-manager"),
				"authentication-kubeconfig":        l.componentKubeconfig("controller-manager"),
				"authorization-kubeconfig":         l.componentKubeconfig("controller-manager"),
				"client-ca-file":                   l.pki("ca.crt"),
				"requestheader-client-ca-file":     l.pki("front-proxy-ca.crt"),
				"cluster-signing-cert-file":        l.pki("ca.crt"),
				"cluster-signing-key-file":         l.pki("ca.key"),
				"root-ca-file":                     l.pki("ca.crt"),
				"service-account-private-key-file": l.pki("sa.key"),
				"use-service-account-credentials":  "true",
				"allocate-node-cidrs":              "false",
				"cluster-cidr":                     clusterCIDR,
				"service-cluster-ip-range":         serviceCIDR,
				"leader-elect":                     "false",
				"bind-address":                     "127.0.0.1",
				"secure-port":                      strconv.Itoa(controllerMgrPort),
				"profiling":                        "false",
				// HPAs (KEDA's) react within seconds, as on a real cluster.
				"horizontal-pod-autoscaler-sync-period": "5s",
			}),
			ports: []int{controllerMgrPort},
			ready: insecureReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", controllerMgrPort)),
		},
		daemon{
			name: "kube-scheduler", bin: k.Bin("kube-scheduler"),
			args: flagList(map[string]string{
				"config":                    l.path("scheduler", "config.yaml"),
				"authentication-kubeconfig": l.componentKubeconfig("scheduler"),
				"authorization-kubeconfig":  l.componentKubeconfig("scheduler"),
				"bind-address":              "127.0.0.1",
				"secure-port":               strconv.Itoa(schedulerPort),
			}),
			ports: []int{schedulerPort},
			ready: insecureReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", schedulerPort)),
		},
		daemon{
			name: "containerd", bin: "containerd",
			args:  []string{"--config", l.path("containerd", "config.toml")},
			ready: socketReady(l.containerdSocket()),
			hint:  "is another containerd using /run/containerd? stop it (`pkill containerd`) or run `csclr dev down`",
		},
		daemon{
			name: "kubelet", bin: k.Bin("kubelet"),
			args: flagList(map[string]string{
				"config":            l.path("kubelet", "config.yaml"),
				"kubeconfig":        l.componentKubeconfig("kubelet"),
				"hostname-override": o.NodeName,
				"node-ip":           o.NodeIP,
				"root-dir":          l.path("kubelet", "root"),
				"cert-dir":          l.path("kubelet", "pki"),
				"v":                 "1",
			}),
			ports: []int{kubeletPort, kubeletHealthPort},
			ready: httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", kubeletHealthPort)),
			hint:  "read the kubelet log for cgroup or containerd errors",
		},
		daemon{
			name: "kube-proxy", bin: k.Bin("kube-proxy"),
			args:  []string{"--config", l.path("kube-proxy", "config.yaml")},
			ports: []int{proxyHealthPort, proxyMetricsPort},
			ready: httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", proxyHealthPort)),
		},
		daemon{
			name: "coredns", bin: coreDNSPart.Bin("coredns"),
			args:  []string{"-conf", l.path("coredns", "Corefile")},
			ports: []int{dnsPort},
			ready: tcpReady(net.JoinHostPort(o.NodeIP, strconv.Itoa(dnsPort))),
		},
	)
}

func httpReady(url string) func(context.Context) error {
	return clientReady(&http.Client{Timeout: 2 * time.Second}, url)
}

func insecureReady(url string) func(context.Context) error {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	return clientReady(&http.Client{Timeout: 2 * time.Second, Transport: tr}, url)
}

// apiReady checks the apiserver as the admin user over its own CA.
func apiReady(l layout, path string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := adminHTTPClient(l)
		if err != nil {
			return err
		}
		return clientReady(c, fmt.Sprintf("https://127.0.0.1:%d%s", apiserverPort, path))(ctx)
	}
}

func adminHTTPClient(l layout) (*http.Client, error) {
	ca, err := os.ReadFile(l.pki("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(l.pki("admin.crt"), l.pki("admin.key"))
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}
	return &http.Client{Timeout: 3 * time.Second, Transport: tr}, nil
}

func clientReady(c *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
		}
		return nil
	}
}

func socketReady(path string) func(context.Context) error {
	return func(context.Context) error {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func tcpReady(addr string) func(context.Context) error {
	return func(context.Context) error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
