package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/server"
)

func newGCCommand() *cobra.Command {
	var dataDir string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete the blocks no committed vault entry references (the server runs this hourly)",
		Long: `Run one block garbage collection in the running server, through its operator
socket, and print what it deleted.

Clients declare, with each vault entry they commit, the blocks its files
reference. A block that no committed entry of its vault declared, stored
longer ago than the grace period (run --gc-grace, 24 hours by default), is
an upload whose commit never came (a crash, a conflict, an abandoned put):
it is deleted and its bytes are given back to the organisation's quota.
Blocks of old versions and of removed files stay: the vault log keeps every
version. A vault holding an entry from a client that declared nothing (an
older client, or entries written before this server version) is never
collected.

The server runs a collection every --gc-interval (1 hour by default) by
itself; this command runs one now. With --dry-run nothing is deleted: it
prints what would be.`,
		Example: "  coffre-server gc --data /var/lib/coffre --dry-run",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGC(cmd.Context(), cmd.OutOrStdout(), dataDir, dryRun, asJSON)
		},
	}
	dataDirFlag(cmd, &dataDir)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "delete nothing; print what would be deleted")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: dry_run, vaults, vaults_undeclared, deleted, deleted_bytes, referenced, recent")
	return cmd
}

func runGC(ctx context.Context, out io.Writer, dataDir string, dryRun, asJSON bool) error {
	op, ok := runningOperator(ctx, dataDir)
	if !ok {
		return fmt.Errorf("no server answers on %s: block collection runs in the running server, which holds the block store (start it with 'coffre-server run --data %s')", operatorPath(dataDir), dataDir)
	}
	defer op.Close()
	col, err := op.CollectBlocks(ctx, dryRun)
	if err != nil {
		return fmt.Errorf("collecting blocks: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			DryRun           bool  `json:"dry_run"`
			Vaults           int   `json:"vaults"`
			VaultsUndeclared int   `json:"vaults_undeclared"`
			Deleted          int   `json:"deleted"`
			DeletedBytes     int64 `json:"deleted_bytes"`
			Referenced       int   `json:"referenced"`
			Recent           int   `json:"recent"`
		}{col.DryRun, col.Vaults, col.VaultsUndeclared, col.Deleted, col.DeletedBytes, col.Referenced, col.Recent})
	}
	printCollection(out, col)
	return nil
}

func printCollection(out io.Writer, col server.Collection) {
	verb := "deleted"
	if col.DryRun {
		verb = "would delete"
	}
	fmt.Fprintf(out, "%s %s (%s) unreferenced, in %s holding blocks\n", verb, plural(col.Deleted, "block"),
		formatBytes(col.DeletedBytes), plural(col.Vaults, "vault"))
	fmt.Fprintf(out, "kept %d referenced by committed entries, %d within the grace period\n", col.Referenced, col.Recent)
	if col.VaultsUndeclared > 0 {
		fmt.Fprintf(out, "%s not collected: an entry there did not declare its blocks (an older client, or written before block collection)\n",
			plural(col.VaultsUndeclared, "vault"))
	}
}
