package measure

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute load averages, for
// the report: figures taken on a busy machine say so.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Machine describes the machine a run took its figures on, given the load
// averages before and after it; a run that shared the CPUs with other work
// is marked preliminary.
func Machine(before, after string) string {
	s := fmt.Sprintf("%d CPUs, load average %s before, %s after", runtime.NumCPU(), before, after)
	if Busy(before) || Busy(after) {
		s += " — **taken under load, preliminary**"
	}
	return s
}

// Busy: a one-minute load average above half the CPUs means other work
// competed with the benchmark.
func Busy(load string) bool {
	f := strings.Fields(load)
	if len(f) == 0 {
		return false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return err == nil && v > float64(runtime.NumCPU())/2
}
