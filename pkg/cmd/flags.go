package cmd

import (
	"github.com/spf13/cobra"
)

// givenFlags reports whether the user set a flag of cmd.
func givenFlags(cmd *cobra.Command) func(string) bool {
	return func(name string) bool {
		f := cmd.Flags().Lookup(name)
		return f != nil && f.Changed
	}
}
