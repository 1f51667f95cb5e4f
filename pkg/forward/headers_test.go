package forward

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecordHop(t *testing.T) {
	tests := []struct {
		name       string
		remoteAddr string
		in         http.Header
		want       http.Header
	}{{
		name:       "first hop",
		remoteAddr: "10.0.0.7:5555",
		in:         http.Header{},
		want: http.Header{
			"Forwarded":         {"for=10.0.0.7;proto=http"},
			"X-Forwarded-For":   {"10.0.0.7"},
			"X-Forwarded-Proto": {"http"},
		},
	}, {
		name:       "behind the activator, IPv6 peer",
		remoteAddr: "[fd00::1]:4000",
		in: http.Header{
			"Forwarded":         {"for=192.0.2.60;proto=https"},
			"X-Forwarded-For":   {"192.0.2.60", "10.1.1.1"},
			"X-Forwarded-Proto": {"https"},
			"Traceparent":       {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		},
		want: http.Header{
			"Forwarded":         {`for=192.0.2.60;proto=https, for="[fd00::1]";proto=http`},
			"X-Forwarded-For":   {"192.0.2.60, 10.1.1.1, fd00::1"},
			"X-Forwarded-Proto": {"https"},
			"Traceparent":       {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr, r.Header = tt.remoteAddr, tt.in
			RecordHop(r)
			if fmt.Sprint(r.Header) != fmt.Sprint(tt.want) {
				t.Fatalf("headers = %v\nwant      %v", r.Header, tt.want)
			}
		})
	}
}
