package config

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Validate reports whether the controller would load cm, one of Names: the
// admission webhook refuses an edit the controller would otherwise reject
// in silence (keeping its previous configuration and recording an event).
// A ConfigMap csclr does not read is valid.
func Validate(cm *corev1.ConfigMap) error {
	if !isName(cm.Name) {
		return nil
	}
	c := Default()
	if err := c.set(cm.Name, cm); err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return nil
}

func isName(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}
