package devcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sample deploys config/samples/hello-pod.yaml (images built with ko) and
// returns what the sample answers through its Service's ClusterIP.
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
	file := filepath.Join(o.RepoRoot, "config", "samples", "hello-pod.yaml")
	resolved, err := koResolve(ctx, io.Discard, o.RepoRoot, file)
	if err != nil {
		return "", err
	}
	if err := apply(ctx, l, resolved); err != nil {
		return "", err
	}
	log.Printf("applied %s", file)
	if _, err := kubectl(ctx, l, nil, "-n", "csclr-sample", "rollout", "status", "deployment/hello", "--timeout=180s"); err != nil {
		return "", err
	}
	ip, err := kubectl(ctx, l, nil, "-n", "csclr-sample", "get", "service", "hello", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		return "", err
	}
	url := "http://" + strings.TrimSpace(ip) + "/"
	client := &http.Client{Timeout: 3 * time.Second}
	var last error
	for i := 0; i < 40; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				log.Printf("GET %s: %s", url, resp.Status)
				return string(body), nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	return "", fmt.Errorf("the sample did not answer at %s: %v", url, last)
}
