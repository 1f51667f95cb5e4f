package main

import (
	"io"
	"net/http/httptest"
	"testing"
)

func TestHandlerAnswersMessage(t *testing.T) {
	for _, tc := range []struct{ message, want string }{{"", "hello\n"}, {"hi there", "hi there\n"}} {
		rec := httptest.NewRecorder()
		newHandler(tc.message).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != 200 || string(body) != tc.want {
			t.Errorf("message %q: got %d %q, want 200 %q", tc.message, rec.Code, body, tc.want)
		}
	}
}
