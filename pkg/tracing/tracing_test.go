package tracing

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestExportsOverOTLP sends a span through the real OTLP/HTTP exporter to a
// fake collector and decodes what arrived.
func TestExportsOverOTLP(t *testing.T) {
	type export struct {
		path string
		req  *coltracepb.ExportTraceServiceRequest
	}
	got := make(chan export, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			t.Errorf("collector: undecodable %s body: %v", r.Header.Get("Content-Type"), err)
		}
		got <- export{r.URL.Path, req}
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer collector.Close()

	// As a user writes it: no path, so the OTLP default applies.
	cfg, err := NewConfigFromMap(map[string]string{BackendKey: "otlp", EndpointKey: collector.URL, SampleRateKey: "1"})
	if err != nil {
		t.Fatal(err)
	}
	// OnError becomes OpenTelemetry's process-wide handler: it must outlive
	// this test, so it only records.
	exportErrs := make(chan error, 10)
	tr, err := New(context.Background(), cfg, Options{ServiceName: "csclr-test", Pod: "p", Namespace: "ns", OnError: func(err error) {
		select {
		case exportErrs <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() {
		t.Fatal("otlp config: tracing not enabled")
	}
	serve(t, tr, http.Header{"Traceparent": {"00-" + callerTrace + "-" + callerSpan + "-01"}}, http.StatusOK)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.path != "/v1/traces" {
			t.Errorf("exported to %s, want /v1/traces", e.path)
		}
		var n int
		for _, rs := range e.req.ResourceSpans {
			res := map[string]string{}
			for _, a := range rs.GetResource().GetAttributes() {
				res[a.Key] = a.GetValue().GetStringValue()
			}
			service := res["service.name"]
			if res["k8s.pod.name"] != "p" || res["k8s.namespace.name"] != "ns" || res["telemetry.sdk.language"] != "go" {
				t.Errorf("resource %v, want the pod, the namespace and the SDK's attributes", res)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					n++
					if tid := hex.EncodeToString(s.TraceId); tid != callerTrace || hex.EncodeToString(s.ParentSpanId) != callerSpan || service != "csclr-test" {
						t.Errorf("span %q of service %q in trace %s, parent %s; want csclr-test, trace %s, parent %s",
							s.Name, service, tid, hex.EncodeToString(s.ParentSpanId), callerTrace, callerSpan)
					}
				}
			}
		}
		if n == 0 {
			t.Error("the export held no span")
		}
		select {
		case err := <-exportErrs:
			t.Errorf("export error: %v", err)
		default:
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no export reached the collector")
	}
}
