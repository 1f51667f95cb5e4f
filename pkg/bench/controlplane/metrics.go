package controlplane

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"k8s.io/client-go/kubernetes"
)

// The leader's Prometheus counters explain where a Service's time goes:
// waiting in a work queue (the controller is saturated) or in reconciles
// (API round trips), and how many API requests each Service costs.
var metricPrefixes = []string{
	"controller_runtime_reconcile_total{",
	"controller_runtime_reconcile_time_seconds_sum{",
	"workqueue_queue_duration_seconds_sum{",
	"workqueue_queue_duration_seconds_count{",
	"rest_client_requests_total{",
}

// series maps one sample line's name and labels ("name{labels}") to its value.
type series map[string]float64

// parseMetrics reads the Prometheus text format, keeping the series whose
// name and labels start with one of prefixes. Comments and other series are
// skipped; a malformed line of a wanted series is an error.
func parseMetrics(text string, prefixes []string) (series, error) {
	out := series{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || !hasAnyPrefix(line, prefixes) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			return nil, fmt.Errorf("metrics line %q has no labels", line)
		}
		fields := strings.Fields(line[end+1:])
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics line %q has no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[line[:end+1]] = v
	}
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// sub is after minus before, series by series.
func (after series) sub(before series) series {
	d := series{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// label extracts one label's value from a series key.
func label(key, name string) string {
	_, rest, ok := strings.Cut(key, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// sumWhere adds the values of the series of one metric whose labels match.
func (s series) sumWhere(metric string, match func(key string) bool) float64 {
	var total float64
	for k, v := range s {
		if strings.HasPrefix(k, metric+"{") && match(k) {
			total += v
		}
	}
	return total
}

// scrapeMetrics reads a pod's /metrics through the API server's pod proxy,
// so the benchmark needs no network path to the pod.
func scrapeMetrics(ctx context.Context, kube kubernetes.Interface, namespace, pod, port string) (series, error) {
	raw, err := kube.CoreV1().Pods(namespace).ProxyGet("http", pod, port, "metrics", nil).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping %s/%s:%s/metrics: %w", namespace, pod, port, err)
	}
	return parseMetrics(string(raw), metricPrefixes)
}

// LeaderWork is the leader's counters over the run.
type LeaderWork struct {
	Pod   string
	Delta series
	Err   error
}

// Write prints, per reconciler, the reconciles, their time, and the time
// items waited in its queue; then the API requests, per Service.
func (l LeaderWork) Write(w io.Writer, services int) {
	if l.Err != nil {
		fmt.Fprintf(w, "leader's work: not measured: %v\n", l.Err)
		return
	}
	fmt.Fprintf(w, "leader's work during the run (%s /metrics, after minus before; includes any other namespace's work):\n", l.Pod)
	var names []string
	for k := range l.Delta {
		if c := label(k, "controller"); c != "" && !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "reconciler\treconciles\terrors\treconcile s\tqueue wait s\tavg queue wait")
	for _, c := range names {
		is := func(k string) bool { return label(k, "controller") == c }
		all := l.Delta.sumWhere("controller_runtime_reconcile_total", is)
		errs := l.Delta.sumWhere("controller_runtime_reconcile_total", func(k string) bool { return is(k) && label(k, "result") == "error" })
		wait := l.Delta.sumWhere("workqueue_queue_duration_seconds_sum", is)
		waits := l.Delta.sumWhere("workqueue_queue_duration_seconds_count", is)
		avg := "-"
		if waits > 0 {
			avg = fmt.Sprintf("%.0f ms", 1000*wait/waits)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%s\n", c, all, errs,
			l.Delta.sumWhere("controller_runtime_reconcile_time_seconds_sum", is), wait, avg)
	}
	tw.Flush()
	reqs := l.Delta.sumWhere("rest_client_requests_total", func(string) bool { return true })
	fmt.Fprintf(w, "API requests %.0f (%.1f per Service)", reqs, reqs/float64(max(services, 1)))
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if n := l.Delta.sumWhere("rest_client_requests_total", func(k string) bool { return label(k, "method") == m }); n > 0 {
			fmt.Fprintf(w, ", %s %.0f", m, n)
		}
	}
	if bad := l.Delta.sumWhere("rest_client_requests_total", func(k string) bool { return !strings.HasPrefix(label(k, "code"), "2") }); bad > 0 {
		fmt.Fprintf(w, "; %.0f answered with an error code (409 conflicts, 403 in a terminating namespace, ...)", bad)
	}
	fmt.Fprintln(w)
}
