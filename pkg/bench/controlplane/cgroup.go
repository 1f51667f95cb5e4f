package controlplane

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sample is one reading of a container's cgroup.
type Sample struct {
	// CPU is the container's cumulative CPU time (user + system).
	CPU time.Duration
	// Usage is the memory charged to the container, page cache included.
	Usage uint64
	// WorkingSet is Usage minus inactive file pages: the figure the kubelet
	// reports and compares with limits, the honest "memory in use".
	WorkingSet uint64
	// RSS is anonymous memory (Go heap, stacks).
	RSS uint64
	// KernelPeak is the kernel's high-water mark of Usage since the
	// container started (it cannot be reset without writing to the
	// controller's cgroup, which this benchmark does not do); 0 if the
	// kernel has none.
	KernelPeak uint64
}

// cgroupDir is where one container's figures live. On cgroup v2 memory and
// CPU share a directory; on v1 they are in separate hierarchies.
type cgroupDir struct {
	v2       bool
	mem, cpu string
}

// cgroupRoots are the mount points to search for a container, for the
// hierarchy the host uses. root is normally /sys/fs/cgroup.
func cgroupRoots(root string) (v2 bool, mem, cpu string) {
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return true, root, root
	}
	cpu = filepath.Join(root, "cpuacct")
	if _, err := os.Stat(cpu); err != nil {
		cpu = filepath.Join(root, "cpu,cpuacct")
	}
	return false, filepath.Join(root, "memory"), cpu
}

// findCgroup locates a container's cgroup directories under root.
func findCgroup(root, podUID, containerID string) (cgroupDir, error) {
	v2, memRoot, cpuRoot := cgroupRoots(root)
	mem, err := findContainerDir(memRoot, podUID, containerID)
	if err != nil {
		return cgroupDir{}, err
	}
	cpu := mem
	if !v2 {
		if cpu, err = findContainerDir(cpuRoot, podUID, containerID); err != nil {
			return cgroupDir{}, err
		}
	}
	return cgroupDir{v2: v2, mem: mem, cpu: cpu}, nil
}

// findContainerDir finds a container's directory in one hierarchy. The
// kubelet's cgroupfs driver names it kubepods/<qos>/pod<uid>/<id>; the
// systemd driver kubepods.slice/kubepods-<qos>.slice/
// kubepods-<qos>-pod<uid with _>.slice/cri-containerd-<id>.scope. Only the
// kubepods subtree is walked, at most four levels deep.
func findContainerDir(root, podUID, containerID string) (string, error) {
	uidForms := []string{"pod" + podUID, "pod" + strings.ReplaceAll(podUID, "-", "_")}
	var found string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == root {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		depth := strings.Count(rel, string(filepath.Separator)) + 1
		if (depth == 1 && !strings.HasPrefix(d.Name(), "kubepods")) || depth > 4 {
			return filepath.SkipDir
		}
		if strings.Contains(d.Name(), containerID) && containsAny(filepath.Dir(path), uidForms) {
			found = path
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", fmt.Errorf("no cgroup of pod %s container %s under %s (is this the node the pod runs on?)", podUID, containerID, root)
	}
	return found, nil
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(filepath.Base(s), sub) {
			return true
		}
	}
	return false
}

// Read takes one sample.
func (c cgroupDir) Read() (Sample, error) {
	if c.v2 {
		return readV2(c.mem)
	}
	return readV1(c.mem, c.cpu)
}

func readV1(mem, cpu string) (Sample, error) {
	var s Sample
	ns, err := readUint(filepath.Join(cpu, "cpuacct.usage"))
	if err != nil {
		return s, err
	}
	s.CPU = time.Duration(ns)
	if s.Usage, err = readUint(filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
		return s, err
	}
	if s.KernelPeak, err = readUint(filepath.Join(mem, "memory.max_usage_in_bytes")); err != nil {
		return s, err
	}
	stat, err := readKeyed(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return s, err
	}
	s.RSS = stat["total_rss"]
	s.WorkingSet = subFloor(s.Usage, stat["total_inactive_file"])
	return s, nil
}

func readV2(dir string) (Sample, error) {
	var s Sample
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return s, err
	}
	s.CPU = time.Duration(cpu["usage_usec"]) * time.Microsecond
	if s.Usage, err = readUint(filepath.Join(dir, "memory.current")); err != nil {
		return s, err
	}
	// memory.peak came with Linux 5.19; older kernels simply have none.
	if peak, err := readUint(filepath.Join(dir, "memory.peak")); err == nil {
		s.KernelPeak = peak
	}
	stat, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return s, err
	}
	s.RSS = stat["anon"]
	s.WorkingSet = subFloor(s.Usage, stat["inactive_file"])
	return s, nil
}

func subFloor(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseUint(string(data))
}

// parseUint reads a single-value cgroup file ("max" means no limit).
func parseUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func readKeyed(path string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parseKeyed(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// parseKeyed reads a flat keyed cgroup file ("key value" per line), such as
// memory.stat and cpu.stat.
func parseKeyed(s string) (map[string]uint64, error) {
	m := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %q is not \"key value\"", sc.Text())
		}
		v, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", fields[0], err)
		}
		m[fields[0]] = v
	}
	if len(m) == 0 {
		return nil, errors.New("empty")
	}
	return m, sc.Err()
}
