// Command app is the HTTP server csclr's end-to-end tests deploy: it answers
// $MESSAGE (default "hello") on $PORT (default 8080).
package main

import (
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: newHandler(os.Getenv("MESSAGE")), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("listening on :%s", port)
	log.Fatal(srv.ListenAndServe())
}

func newHandler(message string) http.Handler {
	if message == "" {
		message = "hello"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(message + "\n"))
	})
}
