package queue

// Procs returns how many threads the sidecar should run Go code on (its
// GOMAXPROCS), given the runtime's current choice and the node's CPUs.
//
// One. A sidecar shares the pod with the user's container; by default Go
// takes a thread per CPU of the node, and at moderate rates those threads
// spend more time waking each other (futex, nanosleep) than proxying: on
// `csclr bench data-path` one thread cut the sidecar's CPU per request by
// about a fifth and its added latency with it, and one core carries about
// 10k requests per second. Two cases keep the runtime's choice: GOMAXPROCS
// set in the environment, and a CPU limit on the container
// (queue-sidecar-cpu-limit), from which Go already derived a smaller number.
func Procs(lookupEnv func(string) (string, bool), current, numCPU int) int {
	if _, set := lookupEnv("GOMAXPROCS"); set {
		return current
	}
	if current < numCPU {
		return current
	}
	return 1
}
