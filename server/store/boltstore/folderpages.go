package boltstore

import (
	"context"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// The pages of a vault's folders in pages, as their newest writers
// declared them (store.FolderPages), beside the vault's log:
//
//	org/<id>/vaults/<vault>/pages    folder id → its page ids, comma-separated
//
// Ids are lowercase letters and digits (CheckBlockIDs), so a comma never
// is part of one.
var bucketPages = []byte("pages")

// recordPages records, in the transaction of an append, the pages the
// entries declared for the folders they wrote; a folder written without
// pages is dropped.
func recordPages(vault *bolt.Bucket, folders []store.FolderPages) error {
	if len(folders) == 0 {
		return nil
	}
	pages, err := vault.CreateBucketIfNotExists(bucketPages)
	if err != nil {
		return err
	}
	for _, f := range folders {
		if len(f.Pages) == 0 {
			err = pages.Delete([]byte(f.Folder))
		} else {
			err = pages.Put([]byte(f.Folder), []byte(strings.Join(f.Pages, ",")))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// VaultPages returns the pages recorded for a vault's folders.
func (s *Store) VaultPages(ctx context.Context, orgID, vaultID string) ([]store.FolderPages, error) {
	var out []store.FolderPages
	err := checkVaultID(vaultID)
	if err == nil {
		err = s.view(ctx, func(tx *bolt.Tx) error {
			vault, err := vaultBucket(tx, orgID, vaultID)
			if err != nil || vault == nil {
				return err
			}
			pages := vault.Bucket(bucketPages)
			if pages == nil {
				return nil
			}
			return pages.ForEach(func(k, v []byte) error {
				out = append(out, store.FolderPages{Folder: string(k), Pages: strings.Split(string(v), ",")})
				return nil
			})
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading the folder pages of vault %q of %s: %w", vaultID, orgID, err)
	}
	return out, nil
}
