package names

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	long := strings.Repeat("a", 60) + "-00001"
	for _, tc := range []struct{ got, want string }{
		{Deployment("hello-00001"), "hello-00001-deployment"},
		{PrivateService("hello-00001"), "hello-00001-private"},
		{PublicService("hello-00001"), "hello-00001"},
		{ScaledObject("hello-00001"), "hello-00001"},
		{PublicEndpointSlice("hello-00001"), "hello-00001"},
		{RouteService("hello"), "hello"},
		{HTTPRoute("hello"), "hello"},
		{Ingress("hello"), "hello"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if n := Deployment(long); len(n) > 63 {
		t.Errorf("Deployment(%q) = %q: longer than 63 characters", long, n)
	}
}
