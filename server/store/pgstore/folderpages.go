package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/server/store"
)

// recordPages records, in the transaction of an append, the pages the
// entries declared for the folders they wrote (schema 6); the folders
// written without pages (every file of an entry too) are dropped with one
// statement.
func recordPages(ctx context.Context, tx pgx.Tx, orgID, vaultID string, folders []store.FolderPages) error {
	var drop []string
	for _, f := range folders {
		if len(f.Pages) == 0 {
			drop = append(drop, f.Folder)
			continue
		}
		_, err := tx.Exec(ctx, `INSERT INTO vault_folder_pages (org_id, vault_id, folder_id, page_ids) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, vault_id, folder_id) DO UPDATE SET page_ids = EXCLUDED.page_ids`, orgID, vaultID, f.Folder, f.Pages)
		if err != nil {
			return err
		}
	}
	if len(drop) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM vault_folder_pages WHERE org_id = $1 AND vault_id = $2 AND folder_id = ANY($3)`, orgID, vaultID, drop)
	return err
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
