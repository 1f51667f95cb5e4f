package devcluster

// Versions of the parts the local cluster builds from the Go module proxy.
// Changing one invalidates only that part's cache directory.
const (
	KubernetesVersion    = "v1.35.4"
	KubernetesLibVersion = "v0.35.4" // the staging modules released with KubernetesVersion
	EtcdVersion          = "v3.6.16"
	KEDAVersion          = "v2.21.0"
	CoreDNSVersion       = "v1.15.0"
	CraneVersion         = "v0.21.7"
	KoVersion            = "v0.19.1"
	KustomizeAPIVersion  = "v0.20.1"
	kubernetesModule     = "k8s.io/kubernetes"
	etcdModule           = "go.etcd.io/etcd/server/v3"
	kedaModule           = "github.com/kedacore/keda/v2"
	coreDNSModule        = "github.com/coredns/coredns"
	containerregistryMod = "github.com/google/go-containerregistry"
	koModule             = "github.com/google/ko"
)
