package controlplane

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const before = `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="service",result="error"} 1
controller_runtime_reconcile_total{controller="service",result="success"} 10
controller_runtime_reconcile_time_seconds_sum{controller="service"} 1.5
controller_runtime_reconcile_time_seconds_bucket{controller="service",le="0.005"} 3
workqueue_queue_duration_seconds_sum{controller="service",name="service"} 2
workqueue_queue_duration_seconds_count{controller="service",name="service"} 11
rest_client_requests_total{code="201",host="10.96.0.1:443",method="POST"} 20
go_goroutines 97
`

const after = `controller_runtime_reconcile_total{controller="service",result="error"} 3
controller_runtime_reconcile_total{controller="service",result="success"} 40
controller_runtime_reconcile_time_seconds_sum{controller="service"} 7.5
workqueue_queue_duration_seconds_sum{controller="service",name="service"} 32
workqueue_queue_duration_seconds_count{controller="service",name="service"} 41
rest_client_requests_total{code="201",host="10.96.0.1:443",method="POST"} 80
rest_client_requests_total{code="409",host="10.96.0.1:443",method="PUT"} 2
`

func TestParseMetrics(t *testing.T) {
	got, err := parseMetrics(before, metricPrefixes)
	if err != nil {
		t.Fatal(err)
	}
	want := series{
		`controller_runtime_reconcile_total{controller="service",result="error"}`:     1,
		`controller_runtime_reconcile_total{controller="service",result="success"}`:   10,
		`controller_runtime_reconcile_time_seconds_sum{controller="service"}`:         1.5,
		`workqueue_queue_duration_seconds_sum{controller="service",name="service"}`:   2,
		`workqueue_queue_duration_seconds_count{controller="service",name="service"}`: 11,
		`rest_client_requests_total{code="201",host="10.96.0.1:443",method="POST"}`:   20,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseMetrics (-want +got):\n%s", diff)
	}
	if _, err := parseMetrics(`rest_client_requests_total{code="200"} x`, metricPrefixes); err == nil {
		t.Error("a malformed value parsed")
	}
}

func TestLeaderWorkWrite(t *testing.T) {
	b, _ := parseMetrics(before, metricPrefixes)
	a, _ := parseMetrics(after, metricPrefixes)
	var out bytes.Buffer
	LeaderWork{Pod: "c-1", Delta: a.sub(b)}.Write(&out, 10)
	for _, want := range []string{
		"service     32          2       6.00         30.00         1000 ms",
		"API requests 62 (6.2 per Service), POST 60, PUT 2; 2 answered with an error code",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
