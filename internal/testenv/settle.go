package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WaitSettled waits, at most timeout, until objs (each with its namespace
// and name set) have kept their resource versions for quiet: the
// reconcilers are done with them. It leaves the last version read in each.
func WaitSettled(t testing.TB, c client.Client, quiet, timeout time.Duration, objs ...client.Object) {
	t.Helper()
	last, since := "", time.Now()
	deadline := time.Now().Add(timeout)
	for {
		err := func() error {
			versions := ""
			for _, o := range objs {
				if err := c.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
					return err
				}
				versions += o.GetResourceVersion() + " "
			}
			if versions != last {
				last, since = versions, time.Now()
			}
			if d := time.Since(since); d < quiet {
				return fmt.Errorf("resource versions %slast changed %s ago", versions, d.Round(time.Millisecond))
			}
			return nil
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the objects did not settle: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
