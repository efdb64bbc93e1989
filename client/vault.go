package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// ErrUnknownVault: no vault of that name or id that this user can see.
var ErrUnknownVault = errors.New("no such vault")

// VaultInfo describes a vault this user is a member of.
type VaultInfo struct {
	ID            string
	Name          string
	Role          certificate.Role
	Until         time.Time
	KeyIndex      uint32
	Members       []Member
	Archived      bool
	NeedsRotation bool
}

// Member is one member of a vault.
type Member struct {
	UserID, Name, Email string
	Role                certificate.Role
	Until               time.Time
}

// Vaults lists the vaults this user is an active member of, with their
// decrypted names.
func (s *Session) Vaults() ([]VaultInfo, error) {
	var out []VaultInfo
	now := time.Now()
	for _, v := range s.org.Vaults() {
		role := s.org.RoleOf(v, s.keys.UserID, now)
		if role == certificate.RoleNone {
			continue
		}
		info, err := s.vaultInfo(v, now)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (s *Session) vaultInfo(v *certificate.Vault, now time.Time) (VaultInfo, error) {
	keys, err := workspace.OpenKeys(s.org, v, s.keys.UserID, s.keys.SealKey)
	if err != nil {
		return VaultInfo{}, fmt.Errorf("vault %s: %w", v.ID, err)
	}
	name, err := workspace.DecryptName(s.org.ID, v, keys)
	if err != nil {
		return VaultInfo{}, fmt.Errorf("vault %s: its name does not decrypt", v.ID)
	}
	info := VaultInfo{ID: v.ID, Name: name, Role: s.org.RoleOf(v, s.keys.UserID, now), KeyIndex: v.KeyIndex(),
		Archived: v.Archived, NeedsRotation: s.org.NeedsRotation(v, now)}
	for _, g := range v.Grants() {
		if s.org.RoleOf(v, g.UserID, now) == certificate.RoleNone {
			continue
		}
		u, _ := s.org.User(g.UserID)
		info.Members = append(info.Members, Member{UserID: u.ID, Name: u.Name, Email: u.Email, Role: g.Role, Until: g.Until})
		if g.UserID == s.keys.UserID {
			info.Until = g.Until
		}
	}
	sortMembers(info.Members)
	return info, nil
}

// FindVault resolves a vault by id or by name among this user's vaults.
func (s *Session) FindVault(ref string) (*certificate.Vault, VaultInfo, error) {
	if v, ok := s.org.Vault(ref); ok {
		info, err := s.vaultInfo(v, time.Now())
		if err == nil && info.Role != certificate.RoleNone {
			return v, info, nil
		}
	}
	all, err := s.Vaults()
	if err != nil {
		return nil, VaultInfo{}, err
	}
	var found []VaultInfo
	for _, info := range all {
		if info.Name == ref {
			found = append(found, info)
		}
	}
	switch len(found) {
	case 0:
		return nil, VaultInfo{}, s.vaultNotFound(ref, all)
	case 1:
		v, _ := s.org.Vault(found[0].ID)
		return v, found[0], nil
	}
	return nil, VaultInfo{}, fmt.Errorf("%d vaults are named %q: use the id (coffre vault list)", len(found), ref)
}

// CreateVault creates a vault owned by this user.
func (s *Session) CreateVault(ctx context.Context, name string) (VaultInfo, error) {
	if err := s.checkNewVaultName(name, ""); err != nil {
		return VaultInfo{}, err
	}
	me, _ := s.Me()
	if me.Profile == certificate.ProfileOutsider {
		return VaultInfo{}, errors.New("outsiders can't create vaults")
	}
	id := certificate.NewID()
	err := s.publish(ctx, "", func() ([]certificate.Statement, error) {
		me, _ := s.Me()
		key, bundle, err := workspace.NewKeyBundle(s.org.ID, id, 1, []*certificate.User{me}, nil)
		if err != nil {
			return nil, err
		}
		return []certificate.Statement{certificate.VaultCreated{
			VaultID: id, EncryptedName: workspace.EncryptName(s.org.ID, id, 1, key, name), Key: bundle,
		}}, nil
	})
	if err != nil {
		return VaultInfo{}, err
	}
	if err := s.checkpoint(ctx, id); err != nil {
		return VaultInfo{}, err
	}
	v, _ := s.org.Vault(id)
	return s.vaultInfo(v, time.Now())
}

// rotation returns the statement that rotates a vault's key to its active
// members, carrying every older key under the new one.
func (s *Session) rotation(org *certificate.Organisation, v *certificate.Vault, now time.Time) (certificate.Statement, crypto.SecretKey, error) {
	keys, err := workspace.OpenKeys(org, v, s.keys.UserID, s.keys.SealKey)
	if err != nil {
		return nil, crypto.SecretKey{}, err
	}
	var older []crypto.SecretKey
	for i := uint32(1); i <= v.KeyIndex(); i++ {
		k, ok := keys.Get(i)
		if !ok {
			return nil, crypto.SecretKey{}, fmt.Errorf("%w: key %d", workspace.ErrNoKey, i)
		}
		older = append(older, k)
	}
	var members []*certificate.User
	for _, id := range org.ActiveMembers(v, now) {
		u, _ := org.User(id)
		members = append(members, u)
	}
	key, bundle, err := workspace.NewKeyBundle(org.ID, v.ID, v.KeyIndex()+1, members, older)
	if err != nil {
		return nil, crypto.SecretKey{}, err
	}
	return certificate.VaultKeyRotated{VaultID: v.ID, Key: bundle}, key, nil
}

// RotateVault gives a vault a new key, sealed to its current members only:
// whoever left can decrypt nothing written afterwards (SECURITY.md A16).
func (s *Session) RotateVault(ctx context.Context, ref string) (VaultInfo, error) {
	v, _, err := s.FindVault(ref)
	if err != nil {
		return VaultInfo{}, err
	}
	err = s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(v.ID)
		if !s.org.RoleOf(v, s.keys.UserID, time.Now()).CanManage() {
			return nil, errors.New("only an owner or a manager can rotate a vault's key")
		}
		st, _, err := s.rotation(s.org, v, time.Now())
		return []certificate.Statement{st}, err
	})
	if err != nil {
		return VaultInfo{}, err
	}
	if err := s.checkpoint(ctx, v.ID); err != nil {
		return VaultInfo{}, err
	}
	v, _ = s.org.Vault(v.ID)
	return s.vaultInfo(v, time.Now())
}

// checkpoint anchors a vault's log after a certificate that needs it (its
// creation, a rotation, a grant of a key): opening the vault does it (see
// anchor).
func (s *Session) checkpoint(ctx context.Context, vaultID string) error {
	if _, err := s.openVault(ctx, vaultID); err != nil {
		return fmt.Errorf("%w: %w", ErrAnchorFailed, err)
	}
	return nil
}

// anchor writes the checkpoint entry (workspace.Vault.Checkpoint) when the
// vault log lacks the one that follows the vault's anchor (its creation,
// newest rotation or newest grant of a key; a crash, or a server that
// dropped it): any member who may write does it on opening the vault, so a
// member removed at a rotation can't go on claiming older positions
// (SPEC.md §11.7). For anyone else a missing checkpoint means entries
// withheld: the organisation log proves they exist (workspace.ErrWithheld,
// SECURITY.md A30) — a new member is never shown an empty or older vault
// than the one they were given.
func (s *Session) anchor(ctx context.Context, w *workspace.Vault, v *certificate.Vault) error {
	if !w.NeedsCheckpoint() {
		return nil
	}
	now := time.Now()
	if v.Archived || !s.org.RoleOf(v, s.keys.UserID, now).CanWrite() || s.org.NeedsRotation(v, now) {
		return fmt.Errorf("%w: the vault log has %d entries, none claiming organisation position %d or later", workspace.ErrWithheld, w.Log().Head.Position, v.AnchorPosition())
	}
	if err := w.Checkpoint(ctx); err != nil {
		return fmt.Errorf("anchoring the vault log: %w", err)
	}
	return nil
}

// ShareVault grants (or changes) a user's role, optionally until a time.
// A new member gets the newest key sealed to their key from the verified
// log; if a member left since that key, the key is rotated first.
func (s *Session) ShareVault(ctx context.Context, ref, userRef string, role certificate.Role, until time.Time) (*certificate.User, error) {
	if err := certificate.CheckGrantEnd(role, until); err != nil {
		return nil, err
	}
	v, _, err := s.FindVault(ref)
	if err != nil {
		return nil, err
	}
	var target *certificate.User
	rotated, gaveKey := false, false
	err = s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(v.ID)
		now := time.Now()
		rotated, gaveKey = false, false
		if !s.org.RoleOf(v, s.keys.UserID, now).CanManage() {
			return nil, errors.New("only an owner or a manager can share this vault")
		}
		u, err := s.FindUser(userRef)
		if err != nil {
			return nil, err
		}
		if u.Revoked() {
			return nil, fmt.Errorf("%s is revoked", u.Email)
		}
		target = u
		grant := certificate.VaultRoleSet{VaultID: v.ID, UserID: u.ID, Role: role, Until: until}
		var stmts []certificate.Statement
		if s.org.RoleOf(v, u.ID, now) == certificate.RoleNone {
			index, key := v.KeyIndex(), crypto.SecretKey{}
			if s.org.NeedsRotation(v, now) {
				st, k, err := s.rotation(s.org, v, now)
				if err != nil {
					return nil, err
				}
				stmts, key, index, rotated = append(stmts, st), k, index+1, true
			} else {
				keys, err := workspace.OpenKeys(s.org, v, s.keys.UserID, s.keys.SealKey)
				if err != nil {
					return nil, err
				}
				_, key = keys.Newest()
			}
			sealed, err := workspace.SealKeyTo(s.org.ID, v.ID, index, u, key)
			if err != nil {
				return nil, err
			}
			grant.Key, grant.KeyIndex = &certificate.SealedKey{UserID: u.ID, Sealed: sealed}, index
			gaveKey = true
		}
		return append(stmts, grant), nil
	})
	if err == nil && (rotated || gaveKey) {
		err = s.checkpoint(ctx, v.ID)
	}
	return target, err
}

// UnshareVault removes members and rotates the key once for all of them.
func (s *Session) UnshareVault(ctx context.Context, ref string, userRefs ...string) error {
	v, _, err := s.FindVault(ref)
	if err != nil {
		return err
	}
	err = s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(v.ID)
		now := time.Now()
		if !s.org.RoleOf(v, s.keys.UserID, now).CanManage() {
			return nil, errors.New("only an owner or a manager can unshare this vault")
		}
		var stmts []certificate.Statement
		after := s.org.Clone()
		for _, ref := range userRefs {
			u, err := s.FindUser(ref)
			if err != nil {
				return nil, err
			}
			if s.org.RoleOf(v, u.ID, now) == certificate.RoleNone {
				return nil, fmt.Errorf("%s is not a member of this vault", u.Email)
			}
			stmts = append(stmts, certificate.VaultRoleSet{VaultID: v.ID, UserID: u.ID, Role: certificate.RoleNone})
		}
		// The rotation is sealed to who remains once the removals apply.
		certs, err := after.SignNext(s.keys.SigningKey, s.keys.DeviceID, now, stmts...)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if _, err := after.Apply(after.Head.Position+1, c); err != nil {
				return nil, err
			}
		}
		av, _ := after.Vault(v.ID)
		rot, _, err := s.rotation(after, av, now)
		if err != nil {
			return nil, err
		}
		return append(stmts, rot), nil
	})
	if err != nil {
		return err
	}
	return s.checkpoint(ctx, v.ID)
}

// RenameVault renames a vault (the name is encrypted with the newest key).
func (s *Session) RenameVault(ctx context.Context, ref, name string) error {
	if err := s.checkNewVaultName(name, ref); err != nil {
		return err
	}
	v, _, err := s.FindVault(ref)
	if err != nil {
		return err
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(v.ID)
		keys, err := workspace.OpenKeys(s.org, v, s.keys.UserID, s.keys.SealKey)
		if err != nil {
			return nil, err
		}
		index, key := keys.Newest()
		return []certificate.Statement{certificate.VaultRenamed{VaultID: v.ID, KeyIndex: index,
			EncryptedName: workspace.EncryptName(s.org.ID, v.ID, index, key, name)}}, nil
	})
}

// ArchiveVault archives (or, with archived false, restores) a vault.
func (s *Session) ArchiveVault(ctx context.Context, ref string, archived bool) error {
	v, _, err := s.FindVault(ref)
	if err != nil {
		return err
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		return []certificate.Statement{certificate.VaultArchived{VaultID: v.ID, Archived: archived}}, nil
	})
}

// OpenVault opens a vault for its files: its keys, its log verified from
// what this device stored and what the server adds. When a member left and
// this user may rotate, the key is rotated first, so that nothing new is
// encrypted with a key they hold.
func (s *Session) OpenVault(ctx context.Context, ref string) (*workspace.Vault, error) {
	for attempt := 0; ; attempt++ {
		w, err := s.openVault(ctx, ref)
		// A member wrote after a certificate this device has not fetched
		// yet: fetch the organisation log and verify again.
		if errors.Is(err, vaultlog.ErrOrganisationBehind) && attempt < 3 {
			if err := s.Sync(ctx); err != nil {
				return nil, err
			}
			continue
		}
		return w, err
	}
}

func (s *Session) openVault(ctx context.Context, ref string) (*workspace.Vault, error) {
	v, info, err := s.FindVault(ref)
	if err != nil {
		return nil, err
	}
	if info.NeedsRotation && info.Role.CanManage() && !v.Archived {
		if _, err := s.RotateVault(ctx, v.ID); err != nil {
			return nil, fmt.Errorf("rotating the key of vault %s: %w", info.Name, err)
		}
		v, _ = s.org.Vault(v.ID)
	}
	keys, err := workspace.OpenKeys(s.org, v, s.keys.UserID, s.keys.SealKey)
	if err != nil {
		return nil, err
	}
	log := workspace.NewLog(s.org.ID, v.ID)
	if err := s.state.loadVault(s.org, keys, log); err != nil {
		return nil, err
	}
	r := &remote{s}
	w := workspace.Open(workspace.Deps{Org: s.org, Vault: v, Keys: keys, Log: log,
		Remote: r, Blocks: r, Cache: r, Journal: r, Persist: s.state.saveVault,
		Writer: workspace.Writer{DeviceID: s.keys.DeviceID, UserID: s.keys.UserID, Key: s.keys.SigningKey},
	})
	if err := w.Sync(ctx); err != nil {
		return nil, err
	}
	if err := s.anchor(ctx, w, v); err != nil {
		return nil, err
	}
	return w, nil
}

// remote is the server as a vault sees it.
type remote struct{ s *Session }

func (r *remote) Append(ctx context.Context, vaultID string, entry []byte) error {
	_, err := r.s.conn.api.VaultAppend(ctx, &coffrev1.VaultAppendRequest{VaultId: vaultID, Entry: entry})
	return fromServer(r.s.conn.address, err)
}

func (r *remote) Read(ctx context.Context, vaultID string, from uint64) ([]workspace.RemoteEntry, uint64, error) {
	var resp *coffrev1.VaultReadResponse
	err := retry(ctx, func() (err error) {
		resp, err = r.s.conn.api.VaultRead(ctx, &coffrev1.VaultReadRequest{VaultId: vaultID, From: from})
		return fromServer(r.s.conn.address, err)
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]workspace.RemoteEntry, 0, len(resp.GetEntries()))
	for _, e := range resp.GetEntries() {
		out = append(out, workspace.RemoteEntry{Position: e.GetPosition(), Data: e.GetData()})
	}
	return out, resp.GetHeadPosition(), nil
}

func (r *remote) PutBlock(ctx context.Context, vaultID, blockID string, data []byte) error {
	err := retry(ctx, func() error {
		_, err := r.s.conn.api.PutBlock(ctx, &coffrev1.PutBlockRequest{VaultId: vaultID, BlockId: blockID, Data: data})
		return fromServer(r.s.conn.address, err)
	})
	if err == nil {
		r.s.cache.put(vaultID, blockID, data)
	}
	return err
}

func (r *remote) GetBlock(ctx context.Context, vaultID, blockID string) ([]byte, error) {
	if data, ok := r.s.cache.get(vaultID, blockID); ok {
		return data, nil
	}
	var resp *coffrev1.GetBlockResponse
	err := retry(ctx, func() (err error) {
		resp, err = r.s.conn.api.GetBlock(ctx, &coffrev1.GetBlockRequest{VaultId: vaultID, BlockId: blockID})
		return fromServer(r.s.conn.address, err)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetData(), nil
}

// BlockVerified keeps a block that passed its manifest's checks: nothing
// the server sends reaches the cache unchecked.
func (r *remote) BlockVerified(vaultID, blockID string, ciphertext []byte) {
	r.s.cache.put(vaultID, blockID, ciphertext)
}

// BlockRejected drops a block that failed its checks.
func (r *remote) BlockRejected(vaultID, blockID string) { r.s.cache.remove(vaultID, blockID) }

// sortMembers orders members by role, then name.
func sortMembers(m []Member) {
	sort.Slice(m, func(i, j int) bool {
		if m[i].Role != m[j].Role {
			return m[i].Role < m[j].Role
		}
		return m[i].Name < m[j].Name
	})
}

// Uploaded, BlockSent and UploadDone keep the blocks of uploads in
// progress in the encrypted local state, so that an interrupted upload
// resumes (workspace.UploadJournal).
func (r *remote) Uploaded(vaultID, path string) []workspace.Block {
	return r.s.state.uploaded(vaultID, path)
}

func (r *remote) BlockSent(vaultID, path string, b workspace.Block) {
	r.s.state.blockSent(vaultID, path, b) // a failure only means sending it again
}

func (r *remote) UploadDone(vaultID, path string) { r.s.state.uploadDone(vaultID, path) }
