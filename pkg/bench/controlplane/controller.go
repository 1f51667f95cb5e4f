package controlplane

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ControllerUsage is the csclr controller's resource use over the run.
type ControllerUsage struct {
	// Source says what was read, for the report.
	Source string
	// Err is set when nothing could be measured (the benchmark still runs).
	Err    error
	Pods   []PodUsage
	Leader LeaderWork
}

// PodUsage is one controller replica's figures.
type PodUsage struct {
	Pod string
	// Leader is whether the replica held the leader Lease at the start and
	// at the end of the run ("start", "end", "both" or "").
	Leader string
	// First and Last are the samples that open and close the window.
	First, Last Sample
	// Peaks over the samples taken in the window.
	PeakWorkingSet, PeakRSS uint64
	Samples                 int
	Err                     error
}

// podProbe samples one replica's cgroup.
type podProbe struct {
	usage PodUsage
	dir   cgroupDir
}

// monitor samples every controller replica until stopped.
type monitor struct {
	kube      kubernetes.Interface
	namespace string
	lease     string
	probes    []*podProbe
	source    string
	port      string
	before    series
	mu        sync.Mutex
	stop      chan struct{}
	done      chan struct{}
}

// MonitorConfig says which pods are the controller and where to read them.
type MonitorConfig struct {
	Namespace string // csclr's system namespace
	Selector  string // label selector of the controller pods
	Container string // the controller's container name
	Lease     string // the leader election Lease in Namespace
	// MetricsPort is the controller's Prometheus port (name or number).
	MetricsPort string
	CgroupRoot  string // normally /sys/fs/cgroup
	Interval    time.Duration
}

// startMonitor finds the controller's pods and their cgroups and starts
// sampling. A failure to find them is reported in the result, not returned:
// the timing figures are still worth having.
func startMonitor(ctx context.Context, kube kubernetes.Interface, cfg MonitorConfig) *monitor {
	m := &monitor{kube: kube, namespace: cfg.Namespace, lease: cfg.Lease, port: cfg.MetricsPort, stop: make(chan struct{}), done: make(chan struct{})}
	v2, _, _ := cgroupRoots(cfg.CgroupRoot)
	m.source = fmt.Sprintf("cgroup v1 files (cpuacct.usage, memory.usage_in_bytes, memory.stat, memory.max_usage_in_bytes) of container %q", cfg.Container)
	if v2 {
		m.source = fmt.Sprintf("cgroup v2 files (cpu.stat usage_usec, memory.current, memory.stat, memory.peak) of container %q", cfg.Container)
	}
	pods, err := kube.CoreV1().Pods(cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cfg.Selector})
	if err != nil {
		m.source = fmt.Sprintf("listing controller pods %s in %s: %v", cfg.Selector, cfg.Namespace, err)
	}
	leader := m.leader(ctx)
	if leader != "" {
		// A failed scrape leaves before nil; Stop then reports it.
		m.before, _ = scrapeMetrics(ctx, kube, cfg.Namespace, leader, cfg.MetricsPort)
	}
	for i := range podsOrEmpty(pods) {
		p := &pods.Items[i]
		probe := &podProbe{usage: PodUsage{Pod: p.Name}}
		if p.Name == leader {
			probe.usage.Leader = "start"
		}
		probe.dir, probe.usage.Err = containerCgroup(cfg.CgroupRoot, p, cfg.Container)
		if probe.usage.Err == nil {
			probe.usage.First, probe.usage.Err = probe.dir.Read()
		}
		m.probes = append(m.probes, probe)
	}
	go m.loop(cfg.Interval)
	return m
}

func podsOrEmpty(l *corev1.PodList) []corev1.Pod {
	if l == nil {
		return nil
	}
	return l.Items
}

// containerCgroup finds the cgroup of the named container of a pod.
func containerCgroup(root string, p *corev1.Pod, container string) (cgroupDir, error) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != container {
			continue
		}
		_, id, ok := strings.Cut(cs.ContainerID, "://")
		if !ok || id == "" {
			return cgroupDir{}, fmt.Errorf("pod %s/%s: container %s has not started", p.Namespace, p.Name, container)
		}
		return findCgroup(root, string(p.UID), id)
	}
	return cgroupDir{}, fmt.Errorf("pod %s/%s has no container %q", p.Namespace, p.Name, container)
}

// leader is the pod holding the leader Lease: controller-runtime's holder
// identity is "<pod name>_<uuid>".
func (m *monitor) leader(ctx context.Context) string {
	l, err := m.kube.CoordinationV1().Leases(m.namespace).Get(ctx, m.lease, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	name, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return name
}

func (m *monitor) loop(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sampleAll()
		}
	}
}

// sampleAll reads every replica once and keeps the peaks and the latest.
func (m *monitor) sampleAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.probes {
		if p.usage.Err != nil {
			continue
		}
		s, err := p.dir.Read()
		if err != nil {
			// The pod went away (restart, rescheduling): keep what we have.
			p.usage.Err = fmt.Errorf("reading %s: %w", p.dir.mem, err)
			continue
		}
		p.usage.Last = s
		p.usage.Samples++
		p.usage.PeakWorkingSet = max(p.usage.PeakWorkingSet, s.WorkingSet)
		p.usage.PeakRSS = max(p.usage.PeakRSS, s.RSS)
	}
}

// Stop takes a last sample and returns the figures.
func (m *monitor) Stop(ctx context.Context) ControllerUsage {
	close(m.stop)
	<-m.done
	m.sampleAll()
	leader := m.leader(ctx)
	u := ControllerUsage{Source: m.source, Leader: m.leaderWork(ctx, leader)}
	for _, p := range m.probes {
		if p.usage.Pod == leader {
			p.usage.Leader = map[string]string{"start": "both", "": "end"}[p.usage.Leader]
		}
		u.Pods = append(u.Pods, p.usage)
	}
	if len(u.Pods) == 0 {
		u.Err = fmt.Errorf("no controller pods found in %s", m.namespace)
	}
	return u
}

// leaderWork scrapes the leader again and subtracts the first scrape. A
// change of leader during the run makes the difference meaningless.
func (m *monitor) leaderWork(ctx context.Context, leader string) LeaderWork {
	lw := LeaderWork{Pod: leader}
	startLeader := ""
	for _, p := range m.probes {
		if p.usage.Leader == "start" {
			startLeader = p.usage.Pod
		}
	}
	switch {
	case leader == "" || m.before == nil:
		lw.Err = fmt.Errorf("no leader, or its metrics on port %s could not be read at the start", m.port)
		return lw
	case leader != startLeader:
		lw.Err = fmt.Errorf("the leader changed from %s to %s during the run", startLeader, leader)
		return lw
	}
	after, err := scrapeMetrics(ctx, m.kube, m.namespace, leader, m.port)
	if err != nil {
		lw.Err = err
		return lw
	}
	lw.Delta = after.sub(m.before)
	return lw
}

// Write prints the controller's figures over a window of the given length.
func (u ControllerUsage) Write(w io.Writer, window time.Duration) {
	fmt.Fprintf(w, "controller replicas over the %s window (first create to all Ready), read from %s:\n", dur(window), u.Source)
	if u.Err != nil {
		fmt.Fprintf(w, "  not measured: %v\n", u.Err)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pod\tleader\tCPU s\tavg cores\tmem before\tpeak working set\tpeak RSS\tkernel peak (since start)\tsamples")
	for _, p := range u.Pods {
		if p.Err != nil && p.Samples == 0 {
			fmt.Fprintf(tw, "%s\t%s\tnot measured: %v\n", p.Pod, p.Leader, p.Err)
			continue
		}
		cpu := p.Last.CPU - p.First.CPU
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%d\n", p.Pod, orDash(p.Leader), cpu.Seconds(),
			cpu.Seconds()/max(window.Seconds(), 1e-9), mib(p.First.WorkingSet), mib(p.PeakWorkingSet), mib(p.PeakRSS), mib(p.Last.KernelPeak), p.Samples)
	}
	tw.Flush()
	fmt.Fprintln(w, "  working set = memory charged minus inactive file cache (what the kubelet reports); peaks are over")
	fmt.Fprintln(w, "  samples in the window. The kernel peak is the high-water mark since the container started (goal: <= 300 MB).")
	fmt.Fprintln(w, "  CPU and memory are the whole container's: work for other namespaces during the run counts too.")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
