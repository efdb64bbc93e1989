package version

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Command is the 'version' command of a binary, and sets its root's
// --version flag to print the same line.
func Command(root *cobra.Command) *cobra.Command {
	line := String(root.Name())
	root.Version = line
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print the version and the commit it was built from")
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit this was built from",
		Long: `Print the module version this was built at ("devel" for a build from a work
tree) and the version-control commit, for a bug report or to compare
devices. The same as --version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), line)
			return err
		},
	}
}
