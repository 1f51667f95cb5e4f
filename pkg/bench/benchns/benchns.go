// Package benchns is a benchmark run's namespace: created new and labelled,
// and deleted (only if it carries the label) with a bounded wait.
package benchns

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Label marks what a benchmark creates (value: the benchmark's name), so a
// leftover namespace is recognisable and only such namespaces are deleted.
const Label = "csclr.dev/bench"

// Create makes the run's namespace; it refuses one that already exists.
func Create(ctx context.Context, kube kubernetes.Interface, name, bench string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{Label: bench}}}
	_, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s already exists: the benchmark only deletes namespaces it created; pick another --namespace or delete it", name)
	}
	if err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// Delete deletes the run's namespace and waits until it is gone,
// at most timeout. It runs on its own context, so that an interrupted run
// still cleans up. Only namespaces carrying Label are deleted.
func Delete(kube kubernetes.Interface, name string, timeout time.Duration, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleanup: reading namespace %s: %w", name, err)
	}
	if ns.Labels[Label] == "" {
		return fmt.Errorf("cleanup: namespace %s lacks label %s; not deleting what this benchmark did not create", name, Label)
	}
	start := time.Now()
	bg := metav1.DeletePropagationBackground
	if err := kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cleanup: deleting namespace %s: %w", name, err)
	}
	if progress != nil {
		fmt.Fprintf(progress, "cleanup: deleting namespace %s (waiting up to %s)\n", name, timeout)
	}
	// One Get every 2 s: the namespace controller reports what is left in
	// the namespace's conditions, which the error quotes.
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		ns, err = kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if progress != nil {
				fmt.Fprintf(progress, "cleanup: namespace %s gone after %s\n", name, time.Since(start).Round(time.Second))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cleanup: namespace %s still exists after %s (%s); check `kubectl get ns %s -o yaml` and delete it when it can go",
				name, timeout, namespaceLeft(ns), name)
		case <-t.C:
		}
	}
}

// namespaceLeft summarizes the namespace controller's conditions (content
// or finalizers remaining).
func namespaceLeft(ns *corev1.Namespace) string {
	if ns == nil {
		return "status unknown"
	}
	var parts []string
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue && c.Message != "" {
			parts = append(parts, string(c.Type)+": "+c.Message)
		}
	}
	if len(parts) == 0 {
		return "phase " + string(ns.Status.Phase)
	}
	return strings.Join(parts, "; ")
}
