package devcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cold builds compile about 9000 packages, each in a new compiler process
// whose heap is faulted in 4 KiB at a time. On the paravirtualised VMs
// csclr is measured on, page faults are dear and took a quarter of a
// compile's CPU time: compiling k8s.io/api/core/v1 and its dependencies
// took 16.0-19.2 s with transparent huge pages in "madvise" mode (Go's heap
// never asks for them) and 11.3-13.6 s in "always", with a tenth of the
// faults (README, "What halved the cold build"). So while csclr compiles, and only then, it sets
// the host's mode to "always" and puts the previous one back afterwards.
// CSCLR_BUILD_HUGEPAGES=leave keeps the host's setting untouched; without
// the right to write it, nothing changes either.

// hugePages switches the host's transparent huge page mode for the time
// of a build. The zero value is not usable; see newHugePages.
type hugePages struct {
	// modeFile is the kernel's setting, saveFile where the previous
	// mode and the switching process are kept (for a crash: the next
	// csclr that finds the process gone puts the mode back).
	modeFile, saveFile string
	pid                int
	// setting is CSCLR_BUILD_HUGEPAGES: "" switches, "leave" keeps the
	// host's mode, anything else keeps it too and says why.
	setting string
	alive   func(pid int) bool

	mu    sync.Mutex
	users int
	owned bool // this process switched the mode and restores it
	told  bool // the switch was logged (once per process)
}

const hugePagesModeFile = "/sys/kernel/mm/transparent_hugepage/enabled"

func newHugePages() *hugePages {
	return &hugePages{
		modeFile: hugePagesModeFile,
		saveFile: filepath.Join(CacheDir(), "hugepages-restore"),
		pid:      os.Getpid(),
		setting:  os.Getenv("CSCLR_BUILD_HUGEPAGES"),
		alive:    processAlive,
	}
}

// buildHugePages is the process's one switch: builds may overlap in one
// process (goroutines, nested calls), and only the last to end switches
// the mode back.
var buildHugePages = newHugePages()

// during runs build with huge pages on; the first switch in the process is
// logged.
func (h *hugePages) during(ctx context.Context, log Logger, build func() error) error {
	h.acquire(ctx, log)
	defer h.release(ctx)
	return build()
}

func (h *hugePages) acquire(ctx context.Context, log Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users++
	if h.users > 1 || h.setting == "leave" {
		return
	}
	if h.setting != "" {
		if !h.told {
			h.told = true
			log.Printf("CSCLR_BUILD_HUGEPAGES=%q is not understood (unset, or \"leave\"): keeping the host's transparent huge page setting", h.setting)
		}
		return
	}
	was, switched, err := h.switchOn(ctx)
	if err != nil {
		log.Printf("building with the host's transparent huge page setting (%v)", err)
		return
	}
	h.owned = switched
	if switched && !h.told {
		h.told = true
		log.Printf("transparent huge pages set to \"always\" while compiling (was %q, put back after each build; CSCLR_BUILD_HUGEPAGES=leave keeps it)", was)
	}
}

func (h *hugePages) release(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users--
	if h.users > 0 || !h.owned {
		return
	}
	h.owned = false
	// Put the mode back even when the build was cancelled (Ctrl-C).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = h.restore(ctx, func(pid int) bool { return pid == h.pid })
}

// switchOn sets the mode to "always" unless it is already, recording the
// previous mode for restore. A record left by a process that is gone is
// taken over, so that this build puts that mode back.
func (h *hugePages) switchOn(ctx context.Context) (was string, switched bool, err error) {
	unlock, err := h.lock(ctx)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	mode, err := h.mode()
	if err != nil {
		return "", false, err
	}
	if pid, saved, ok := h.saved(); ok {
		switch {
		case h.alive(pid):
			return mode, false, nil // another build switched it and puts it back
		case mode == "always":
			return saved, true, h.save(saved) // left by a build that is gone
		default:
			_ = os.Remove(h.saveFile) // stale: the host's mode was changed since
		}
	}
	if mode == "always" {
		return mode, false, nil
	}
	if err := h.save(mode); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(h.modeFile, []byte("always"), 0o644); err != nil {
		_ = os.Remove(h.saveFile)
		return "", false, err
	}
	return mode, true, nil
}

// restore puts the recorded mode back when mine says the record is this
// caller's to undo, and removes the record.
func (h *hugePages) restore(ctx context.Context, mine func(pid int) bool) error {
	unlock, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	pid, saved, ok := h.saved()
	if !ok || !mine(pid) {
		return nil
	}
	if mode, err := h.mode(); err == nil && mode == "always" {
		if err := os.WriteFile(h.modeFile, []byte(saved), 0o644); err != nil {
			return err
		}
	}
	return os.Remove(h.saveFile)
}

// restoreAbandoned puts back a mode recorded by a csclr that is gone (one
// killed while compiling), as `dev down` does.
func (h *hugePages) restoreAbandoned(ctx context.Context) error {
	return h.restore(ctx, func(pid int) bool { return !h.alive(pid) })
}

// mode reads the selected mode: "always [madvise] never" → "madvise" (a
// file holding one word is that mode).
func (h *hugePages) mode() (string, error) {
	data, err := os.ReadFile(h.modeFile)
	if err != nil {
		return "", err
	}
	text := string(data)
	if f := strings.Fields(text); len(f) == 1 {
		return f[0], nil
	}
	open, end := strings.IndexByte(text, '['), strings.IndexByte(text, ']')
	if open < 0 || end < open {
		return "", fmt.Errorf("%s: no selected mode in %q", h.modeFile, strings.TrimSpace(text))
	}
	return text[open+1 : end], nil
}

func (h *hugePages) saved() (pid int, mode string, ok bool) {
	data, err := os.ReadFile(h.saveFile)
	if err != nil {
		return 0, "", false
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0, "", false
	}
	pid, err = strconv.Atoi(f[0])
	return pid, f[1], err == nil
}

func (h *hugePages) save(mode string) error {
	if err := os.MkdirAll(filepath.Dir(h.saveFile), 0o755); err != nil {
		return err
	}
	return os.WriteFile(h.saveFile, []byte(fmt.Sprintf("%d %s\n", h.pid, mode)), 0o644)
}

func (h *hugePages) lock(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(h.saveFile), 0o755); err != nil {
		return nil, err
	}
	return lockFile(ctx, h.saveFile+".lock")
}
