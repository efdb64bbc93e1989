package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/server"
)

func newBackupCommand() *cobra.Command {
	var dataDir, out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent copy of the store, while the server runs or not",
		Long: `Write a consistent copy of the embedded store to FILE. While the server runs,
the copy is taken through its operator socket in one read transaction, so
writes go on meanwhile. To restore, stop the server and run
'coffre-server restore --data DIR --from FILE', which puts it back as
DATA/coffre.db. A server on PostgreSQL writes a JSON-lines dump instead;
'coffre-server restore --postgres URL --from FILE' loads it into a new
database. Blocks are in neither: copy them separately.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			if err := runBackup(cmd.Context(), dataDir, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup written to %s\n", out)
			return nil
		},
	}
	dataDirFlag(cmd, &dataDir)
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to")
	return cmd
}

func runBackup(ctx context.Context, dataDir, out string) error {
	f, err := os.CreateTemp(filepath.Dir(out), ".backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	err = withOperator(ctx, dataDir, func(op server.Operator) error { return op.Backup(ctx, f) })
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}
