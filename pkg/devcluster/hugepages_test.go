package devcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type lines []string

func (l *lines) Printf(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }

// testHugePages uses a mode file holding the kernel's text; live lists the
// process ids taken as running.
func testHugePages(t *testing.T, mode string, live ...int) *hugePages {
	t.Helper()
	dir := t.TempDir()
	h := &hugePages{
		modeFile: filepath.Join(dir, "enabled"),
		saveFile: filepath.Join(dir, "cache", "hugepages-restore"),
		pid:      100,
		alive: func(pid int) bool {
			for _, l := range live {
				if l == pid {
					return true
				}
			}
			return false
		},
	}
	if err := os.WriteFile(h.modeFile, []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hugePages) currentMode(t *testing.T) string {
	t.Helper()
	m, err := h.mode()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHugePagesDuringABuild(t *testing.T) {
	cases := []struct {
		name          string
		mode          string
		setting       string
		record        string // saveFile contents before the build
		live          []int
		during, after string
		recordAfter   bool
		logsASwitch   bool
	}{
		{name: "madvise is switched and put back", mode: "always [madvise] never", during: "always", after: "madvise", logsASwitch: true},
		{name: "never is switched and put back", mode: "always madvise [never]", during: "always", after: "never", logsASwitch: true},
		{name: "always is left alone", mode: "[always] madvise never", during: "always", after: "always"},
		{name: "the user keeps the host's", mode: "always [madvise] never", setting: "leave", during: "madvise", after: "madvise"},
		{name: "a setting not understood keeps the host's", mode: "always [madvise] never", setting: "off", during: "madvise", after: "madvise"},
		{name: "another running build switched it", mode: "always", record: "7 madvise", live: []int{7},
			during: "always", after: "always", recordAfter: true},
		{name: "a build that died switched it: this one puts it back", mode: "always", record: "7 never",
			during: "always", after: "never", logsASwitch: true},
		{name: "a stale record after the host changed the mode", mode: "madvise", record: "7 never",
			during: "always", after: "madvise", logsASwitch: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testHugePages(t, c.mode, c.live...)
			h.setting = c.setting
			if c.record != "" {
				if err := h.save("x"); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(h.saveFile, []byte(c.record), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log lines
			var during string
			err := h.during(context.Background(), &log, func() error {
				during = h.currentMode(t)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if during != c.during {
				t.Errorf("mode during the build = %q, want %q", during, c.during)
			}
			if got := h.currentMode(t); got != c.after {
				t.Errorf("mode after = %q, want %q", got, c.after)
			}
			if _, err := os.Stat(h.saveFile); (err == nil) != c.recordAfter {
				t.Errorf("record left after the build: %v, want %v", err == nil, c.recordAfter)
			}
			if switched := len(log) == 1 && strings.Contains(log[0], `set to "always"`); switched != c.logsASwitch {
				t.Errorf("log %q: switch logged = %v, want %v", log, switched, c.logsASwitch)
			}
		})
	}
}

func TestHugePagesNestedBuildsSwitchOnce(t *testing.T) {
	h := testHugePages(t, "always [madvise] never")
	var log lines
	ctx := context.Background()
	err := h.during(ctx, &log, func() error {
		return h.during(ctx, &log, func() error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 {
		t.Errorf("log = %q, want one switch", log)
	}
	_ = h.during(ctx, &log, func() error { return nil })
	if len(log) != 1 {
		t.Errorf("log = %q after a second build, want the switch told once", log)
	}
	if got := h.currentMode(t); got != "madvise" {
		t.Errorf("mode after = %q, want madvise", got)
	}
}

func TestHugePagesInnerBuildLeavesTheModeOn(t *testing.T) {
	h := testHugePages(t, "always [madvise] never")
	ctx := context.Background()
	var log lines
	_ = h.during(ctx, &log, func() error {
		h.during(ctx, &log, func() error { return nil })
		if got := h.currentMode(t); got != "always" {
			t.Errorf("an inner build put the mode back to %q before the outer one ended", got)
		}
		return nil
	})
}

func TestHugePagesUnwritable(t *testing.T) {
	h := testHugePages(t, "always [madvise] never")
	h.modeFile = filepath.Join(t.TempDir(), "missing", "enabled")
	var log lines
	ran := false
	if err := h.during(context.Background(), &log, func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("the build ran: %v, err %v", ran, err)
	}
	if len(log) != 1 || !strings.Contains(log[0], "host's transparent huge page setting") {
		t.Errorf("log = %q, want why nothing changed", log)
	}
}

func TestHugePagesRestoreAbandoned(t *testing.T) {
	for _, c := range []struct {
		name  string
		live  []int
		after string
	}{
		{name: "the build is gone", after: "madvise"},
		{name: "the build still runs", live: []int{7}, after: "always"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := testHugePages(t, "always", c.live...)
			if err := h.save("x"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(h.saveFile, []byte("7 madvise\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := h.restoreAbandoned(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := h.currentMode(t); got != c.after {
				t.Errorf("mode = %q, want %q", got, c.after)
			}
		})
	}
}

func TestHugePagesPutBackAfterACancelledBuild(t *testing.T) {
	h := testHugePages(t, "always [madvise] never")
	ctx, cancel := context.WithCancel(context.Background())
	var log lines
	_ = h.during(ctx, &log, func() error {
		cancel() // Ctrl-C while compiling
		unlock, err := h.lock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Someone else holds the record's lock for a moment: restoring
		// waits for it rather than giving up with the build's context.
		time.AfterFunc(600*time.Millisecond, unlock)
		return ctx.Err()
	})
	if got := h.currentMode(t); got != "madvise" {
		t.Errorf("mode after a cancelled build = %q, want madvise", got)
	}
}

func TestHugePagesSettingNotUnderstood(t *testing.T) {
	h := testHugePages(t, "always [madvise] never")
	h.setting = "off"
	var log lines
	_ = h.during(context.Background(), &log, func() error { return nil })
	if len(log) != 1 || !strings.Contains(log[0], `CSCLR_BUILD_HUGEPAGES="off" is not understood`) {
		t.Errorf("log = %q, want the setting named as not understood", log)
	}
}
