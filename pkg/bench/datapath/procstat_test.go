package datapath

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// A real line (trimmed after field 20); utime 1234, stime 56.
	line := "4242 (queue) S 1 4242 4242 0 -1 4194560 2100 0 0 0 1234 56 0 0 20 0 9 0"
	for _, tc := range []struct {
		name, line string
		want       uint64
		err        string
	}{
		{"plain", line, 1290, ""},
		{"name with spaces and parentheses", strings.Replace(line, "(queue)", "(a) b (c)", 1), 1290, ""},
		{"no name", "4242 queue S 1", 0, "no ')'"},
		{"short", "4242 (queue) S 1 2 3", 0, "fields after the command name"},
		{"not a number", strings.Replace(line, " 1234 ", " x ", 1), 0, "field 14"},
	} {
		got, err := parseStatCPU([]byte(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}

func TestProcessCPUOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 200_000_000 { // burn ~0.1 s so that a tick passes
		x += i
	}
	after, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before || x == 0 {
		t.Errorf("CPU time went from %v to %v", before, after)
	}
}
