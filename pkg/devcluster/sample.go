package devcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sample applies config/samples/hello.yaml (a Knative Service whose image
// ko builds), waits until it is Ready with no pod running, and sends it one
// request through csclr's gateway: a cold start. It returns the answer.
func Sample(ctx context.Context, o Options, log Logger) (string, error) {
	if err := o.complete(); err != nil {
		return "", err
	}
	if o.RepoRoot == "" {
		return "", fmt.Errorf("csclr's repository was not found from the working directory")
	}
	l := layout{root: o.StateDir}
	if _, err := os.Stat(l.kubeconfig()); err != nil {
		return "", fmt.Errorf("no cluster at %s: run `csclr dev up` first", l.root)
	}
	gateway := gatewayAddress(l)
	if gateway == "" {
		return "", fmt.Errorf("csclr's gateway (Service %s/%s) is not installed: run `csclr dev up` without --skip-csclr", csclrNamespace, gatewayService)
	}
	file := filepath.Join(o.RepoRoot, "config", "samples", "hello.yaml")
	resolved, err := koResolve(ctx, io.Discard, o.RepoRoot, file)
	if err != nil {
		return "", err
	}
	if err := apply(ctx, l, resolved); err != nil {
		return "", err
	}
	log.Printf("applied %s", file)
	if _, err := kubectl(ctx, l, nil, "-n", "csclr-sample", "wait", "--for=condition=Ready", "ksvc/hello", "--timeout=180s"); err != nil {
		return "", err
	}
	raw, err := kubectl(ctx, l, nil, "-n", "csclr-sample", "get", "ksvc", "hello", "-o", "jsonpath={.status.url}")
	if err != nil {
		return "", err
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("ksvc csclr-sample/hello has no URL in its status (%q)", raw)
	}
	pods, _ := kubectl(ctx, l, nil, "-n", "csclr-sample", "get", "pods", "-l", "serving.knative.dev/service=hello", "-o", "name")
	log.Printf("ksvc hello Ready at %s; pods running: %d", u, len(strings.Fields(pods)))

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gateway+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = u.Host
	start := time.Now()
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s through the gateway %s: %w", u, gateway, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s through the gateway %s: %s: %s", u, gateway, resp.Status, body)
	}
	log.Printf("GET %s (Host %s) via %s: %s in %s", u, u.Host, gateway, resp.Status, time.Since(start).Round(time.Millisecond))
	log.Printf("try it: curl -H 'Host: %s' http://%s/", u.Host, gateway)
	return string(body), nil
}
