package names

import (
	"strings"
	"testing"
)

func TestServingNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Configuration("hello"), "hello"},
		{Route("hello"), "hello"},
		{Revision("hello", 1), "hello-00001"},
		{Revision("hello", 123456), "hello-123456"},
		{RouteEndpointSlice("hello"), "hello"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if n := Revision(strings.Repeat("a", 62), 2); len(n) > 63 {
		t.Errorf("Revision of a long name = %q: longer than 63 characters", n)
	}
}
