package syncservice

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/workspace"
)

// session opens a session with u's keys and brings it up to date; an
// unreachable server leaves it on the state verified last.
func session(ctx context.Context, u *client.Unlocked) (*client.Session, error) {
	s, err := u.Session()
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil && !errors.Is(err, client.ErrServerUnavailable) {
		s.Close()
		return nil, err
	}
	return s, nil
}

// FolderOf is the vault ref (name or id) synced with the folder dir.
func FolderOf(ctx context.Context, u *client.Unlocked, ref, dir string) (Folder, error) {
	s, err := session(ctx, u)
	if err != nil {
		return Folder{}, err
	}
	defer s.Close()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Folder{}, err
	}
	v, info, err := s.FindVault(ref)
	if err != nil {
		return Folder{}, err
	}
	return Folder{VaultID: v.ID, Name: info.Name, Dir: abs}, nil
}

// AllFolders is every vault the user is a member of, each synced with
// root/<vault name>. It fails with ErrNoVault when there is none, and
// when a vault's name can't be a folder's.
func AllFolders(ctx context.Context, u *client.Unlocked, root string) ([]Folder, error) {
	s, err := session(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	vaults, err := s.Vaults()
	if err != nil {
		return nil, err
	}
	var out []Folder
	for _, v := range vaults {
		if workspace.ValidName(v.Name) != nil {
			return nil, fmt.Errorf("vault %s's name %q can't be a folder name: sync it alone", v.ID, v.Name)
		}
		out = append(out, Folder{VaultID: v.ID, Name: v.Name, Dir: filepath.Join(abs, v.Name)})
	}
	if len(out) == 0 {
		return nil, ErrNoVault
	}
	return out, nil
}
