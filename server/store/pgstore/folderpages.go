package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/server/store"
)

// queuePages queues, in the transaction of an append, the recording of
// the pages the entries declared for the folders they wrote (schema 6);
// the folders written without pages (every file of an entry too) are
// dropped with one statement.
func queuePages(b *pgx.Batch, orgID, vaultID string, folders []store.FolderPages) {
	var drop []string
	for _, f := range folders {
		if len(f.Pages) == 0 {
			drop = append(drop, f.Folder)
			continue
		}
		b.Queue(`INSERT INTO vault_folder_pages (org_id, vault_id, folder_id, page_ids) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, vault_id, folder_id) DO UPDATE SET page_ids = EXCLUDED.page_ids`, orgID, vaultID, f.Folder, f.Pages)
	}
	if len(drop) > 0 {
		b.Queue(`DELETE FROM vault_folder_pages WHERE org_id = $1 AND vault_id = $2 AND folder_id = ANY($3)`, orgID, vaultID, drop)
	}
}

// VaultPages returns the pages recorded for a vault's folders, by folder id.
func (s *Store) VaultPages(ctx context.Context, orgID, vaultID string) ([]store.FolderPages, error) {
	out, err := s.vaultPages(ctx, orgID, vaultID)
	if err != nil {
		return nil, fmt.Errorf("reading the folder pages of vault %q of %s: %w", vaultID, orgID, err)
	}
	return out, nil
}

func (s *Store) vaultPages(ctx context.Context, orgID, vaultID string) ([]store.FolderPages, error) {
	if err := checkVaultID(vaultID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT folder_id, page_ids FROM vault_folder_pages WHERE org_id = $1 AND vault_id = $2 ORDER BY folder_id`, orgID, vaultID)
	if err != nil {
		return nil, err
	}
	var out []store.FolderPages
	var f store.FolderPages
	_, err = pgx.ForEachRow(rows, []any{&f.Folder, &f.Pages}, func() error {
		out = append(out, f)
		f = store.FolderPages{}
		return nil
	})
	return out, err
}
