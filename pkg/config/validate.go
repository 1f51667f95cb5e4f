package config

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Validate reports whether the controller would load cm, one of Names: the
// admission webhook refuses an edit the controller would otherwise reject
// in silence (keeping its previous configuration and recording an event).
// A ConfigMap csclr does not read is valid.
func Validate(cm *corev1.ConfigMap) error {
	if !slices.Contains(Names, cm.Name) {
		return nil
	}
	c := Default()
	if err := c.set(cm.Name, cm); err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return nil
}
