//go:build tools

// Modules csclr reads at build and test time (CRDs from the module cache)
// even where no package imports them yet; this keeps them pinned in go.mod.
package tools

import (
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	_ "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	_ "github.com/spf13/cobra"
	_ "knative.dev/serving/pkg/apis/serving/v1"
	_ "knative.dev/serving/pkg/client/clientset/versioned"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
