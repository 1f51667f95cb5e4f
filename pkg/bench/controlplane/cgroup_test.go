package controlplane

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseKeyed(t *testing.T) {
	got, err := parseKeyed("usage_usec 1500\nuser_usec 1000\n\nsystem_usec 500\n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]uint64{"usage_usec": 1500, "user_usec": 1000, "system_usec": 500}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "key", "key 1 2", "key -1", "key x"} {
		if _, err := parseKeyed(bad); err == nil {
			t.Errorf("parseKeyed(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseUint(t *testing.T) {
	tests := map[string]uint64{"42\n": 42, " 0 ": 0, "max\n": ^uint64(0)}
	for in, want := range tests {
		got, err := parseUint(in)
		if err != nil || got != want {
			t.Errorf("parseUint(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseUint("12 MB"); err == nil {
		t.Error("parseUint(\"12 MB\") succeeded")
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	podUID = "ceb7f3b4-da0b-43a5-aa39-a0eb0eac0420"
	ctrID  = "e7c693ef4aecdf3373d639675b6e8dfd0be454a5e472a256c01c8c3afdd3859e"
)

// A cgroup v1 host with the kubelet's cgroupfs driver, as on the dev
// cluster: memory and cpuacct are separate hierarchies.
func TestCgroupV1(t *testing.T) {
	root := t.TempDir()
	rel := filepath.Join("kubepods", "burstable", "pod"+podUID, ctrID)
	writeFiles(t, filepath.Join(root, "memory", rel), map[string]string{
		"memory.usage_in_bytes":     "18255872\n",
		"memory.max_usage_in_bytes": "20000000\n",
		"memory.stat":               "cache 20480\nrss 17104896\ntotal_rss 17104896\ntotal_inactive_file 4096\n",
	})
	writeFiles(t, filepath.Join(root, "cpuacct", rel), map[string]string{"cpuacct.usage": "941740713\n"})
	// Another pod's container, which must not be picked.
	writeFiles(t, filepath.Join(root, "memory", "kubepods", "burstable", "podother", ctrID+"x"), nil)

	dir, err := findCgroup(root, podUID, ctrID)
	if err != nil {
		t.Fatal(err)
	}
	want := cgroupDir{mem: filepath.Join(root, "memory", rel), cpu: filepath.Join(root, "cpuacct", rel)}
	if diff := cmp.Diff(want, dir, cmp.AllowUnexported(cgroupDir{})); diff != "" {
		t.Errorf("findCgroup (-want +got):\n%s", diff)
	}
	s, err := dir.Read()
	if err != nil {
		t.Fatal(err)
	}
	wantSample := Sample{CPU: 941740713 * time.Nanosecond, Usage: 18255872, WorkingSet: 18255872 - 4096, RSS: 17104896, KernelPeak: 20000000}
	if diff := cmp.Diff(wantSample, s); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

// A cgroup v2 host with the systemd driver: one hierarchy, slices and
// scopes, the pod UID written with underscores.
func TestCgroupV2Systemd(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"cgroup.controllers": "cpu memory\n"})
	rel := filepath.Join("kubepods.slice", "kubepods-burstable.slice",
		"kubepods-burstable-pod"+podUIDUnderscored()+".slice", "cri-containerd-"+ctrID+".scope")
	writeFiles(t, filepath.Join(root, rel), map[string]string{
		"cpu.stat":       "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
		"memory.current": "50000000\n",
		"memory.peak":    "60000000\n",
		"memory.stat":    "anon 40000000\nfile 10000000\ninactive_file 8000000\n",
	})
	// A sibling tree outside kubepods holding a same-named directory is not searched.
	writeFiles(t, filepath.Join(root, "system.slice", "pod"+podUID, ctrID), nil)

	dir, err := findCgroup(root, podUID, ctrID)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, rel); dir.mem != want || dir.cpu != want || !dir.v2 {
		t.Errorf("findCgroup = %+v, want v2 at %s", dir, want)
	}
	s, err := dir.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{CPU: 2500 * time.Millisecond, Usage: 50000000, WorkingSet: 42000000, RSS: 40000000, KernelPeak: 60000000}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

func podUIDUnderscored() string {
	b := []byte(podUID)
	for i := range b {
		if b[i] == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

func TestFindCgroupMissing(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "memory", "kubepods", "besteffort"), nil)
	if _, err := findCgroup(root, podUID, ctrID); err == nil {
		t.Error("findCgroup found a container that is not there")
	}
}
