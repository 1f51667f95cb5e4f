package queue

import "testing"

func TestProcs(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, tc := range []struct {
		name                  string
		env                   func(string) (string, bool)
		current, numCPU, want int
	}{
		{"no limit, many CPUs: one", env(), 16, 16, 1},
		{"no limit, one CPU", env(), 1, 1, 1},
		{"a CPU limit of 2 on a 16-CPU node: Go's choice", env(), 2, 16, 2},
		{"GOMAXPROCS set: the runtime honoured it", env("GOMAXPROCS", "4"), 4, 16, 4},
	} {
		if got := Procs(tc.env, tc.current, tc.numCPU); got != tc.want {
			t.Errorf("%s: Procs = %d, want %d", tc.name, got, tc.want)
		}
	}
}
