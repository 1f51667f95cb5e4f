// Package cli is the csclr command line.
package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// NewRoot returns the csclr command with all its subcommands.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "csclr",
		Short:         "csclr: Knative Services on KEDA and Linkerd",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(newDevCommand(), newBenchCommand())
	return root
}
