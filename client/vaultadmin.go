package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
)

// Vault administration: the certificates that create a vault, share it,
// rotate its key, rename and archive it, and PrepareVault, the upkeep that
// reading a vault never does. A certificate that gives a vault a new
// anchor (its creation, a rotation, a grant of a key) is followed at once
// by the vault log's checkpoint (SPEC.md §11.5).

// Upkeep says what PrepareVault wrote.
type Upkeep struct {
	// Rotated: a member had left, and this user rotated the vault's key
	// to those who remain (SPEC.md §11.4).
	Rotated bool
	// Checkpointed: the vault log lacked the checkpoint after the vault's
	// anchor, and this user wrote it (SPEC.md §11.5).
	Checkpointed bool
	// Released: the user ids this user released the vault key to, whose
	// grant came without one (an emergency, a takeover: SPEC.md §16).
	Released []string
	// Awaiting: the vault needs a new key, but a member's keys are being
	// replaced after a device revocation (ErrAwaitingUserKeys, naming
	// them): it is opened as it is, and its writes wait.
	Awaiting error
}

// PrepareVault does the writes a vault may be waiting for, which
// OpenVault never does, then opens it as OpenVault does:
//
//   - when a member left since the newest key, and this user is an owner
//     or a manager of a vault not archived, it rotates the key, so that
//     nothing new is encrypted with a key they hold (SECURITY.md A16);
//   - when the vault log lacks the checkpoint after the vault's anchor
//     (a crash after its creation, rotation or grant of a key, or a
//     server that dropped it) and this user may write, it writes it
//     (SPEC.md §11.5, §11.7; SECURITY.md A29, A30).
//
// Callers that are about to write, and those that stand for a person who
// may write (the command line's vault commands, the sync service), run it
// instead of OpenVault. When the checkpoint is missing and this user may
// not write it, the open fails with workspace.ErrWithheld, as OpenVault's
// does.
func (s *Session) PrepareVault(ctx context.Context, ref string) (*workspace.Vault, Upkeep, error) {
	var done Upkeep
	// A device of this user revoked since their newest key rotation (by
	// an administrator): the user's keys are rotated before any vault's
	// (SPEC.md §15.2 step 4).
	if err := s.rotateOwnKeysIfExposed(ctx); err != nil {
		return nil, done, err
	}
	v, info, err := s.lookupVault(ref, false)
	if err != nil {
		return nil, done, err
	}
	if info.AwaitingKey {
		return nil, done, ErrKeyNotReleased
	}
	if info.NeedsRotation && info.Role.CanManage() && !v.Archived {
		switch err := s.rotate(ctx, v.ID, false); {
		case errors.Is(err, ErrAwaitingUserKeys):
			// Opened as it is: its writes wait for the rotation.
			done.Awaiting = err
		case err != nil:
			return nil, done, fmt.Errorf("rotating the key of vault %s: %w", info.Name, err)
		default:
			done.Rotated = true
		}
	}
	if done.Released, err = s.releaseKeys(ctx, v.ID); err != nil {
		return nil, done, fmt.Errorf("releasing the key of vault %s: %w", info.Name, err)
	}
	var opened *workspace.Vault
	err = s.whileOrganisationBehind(ctx, func() error {
		w, v, err := s.verifiedVault(v.ID)
		if err != nil {
			return err
		}
		// A checkpoint this device lacks, and may write: the log comes with
		// the server's signed heads, which the checkpoint confirms with
		// (one read, not two). Another member's checkpoint, if the server
		// has one, arrives with it: a sync only adds entries.
		sync := w.Sync
		if w.NeedsCheckpoint() && s.mayCheckpoint(v) {
			sync = w.SyncToCheckpoint
		}
		if err := sync(ctx); err != nil {
			return err
		}
		if w.NeedsCheckpoint() && s.mayCheckpoint(v) {
			if err := w.Checkpoint(ctx); err != nil {
				return fmt.Errorf("anchoring the vault log: %w", err)
			}
			done.Checkpointed = true
		}
		if err := s.checkAnchored(w, v); err != nil {
			return err
		}
		opened = w
		return nil
	})
	if err != nil {
		return nil, done, err
	}
	return opened, done, nil
}

// checkpoint anchors a vault's log right after a certificate that needs
// it (its creation, a rotation, a grant of a key), by its upkeep.
// A rotation stored aside (adoptAppended) is waited for here: its
// error, if any, comes first.
func (s *Session) checkpoint(ctx context.Context, vaultID string) error {
	defer s.dropReadAhead()
	_, _, err := s.PrepareVault(ctx, vaultID)
	if serr := s.settle(); serr != nil {
		return serr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAnchorFailed, err)
	}
	return nil
}

// CreateVault creates a vault owned by this user, and writes the
// checkpoint that anchors its log.
func (s *Session) CreateVault(ctx context.Context, name string) (VaultInfo, error) {
	if err := s.checkNewVaultName(name, ""); err != nil {
		return VaultInfo{}, err
	}
	me, _ := s.Me()
	if me.Profile == certificate.ProfileOutsider {
		return VaultInfo{}, ErrOutsider
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
	keys, err := s.openKeys(org, v)
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
		// Sealed to a key a revoked device holds, the new key would open
		// there: it waits for that person's new keys (SPEC.md §15.2).
		if org.AwaitsUserKeys(id) {
			return nil, crypto.SecretKey{}, fmt.Errorf("%w: %s", ErrAwaitingUserKeys, u.Email)
		}
		members = append(members, u)
	}
	key, bundle, err := workspace.NewKeyBundle(org.ID, v.ID, v.KeyIndex()+1, members, older)
	if err != nil {
		return nil, crypto.SecretKey{}, err
	}
	return certificate.VaultKeyRotated{VaultID: v.ID, Key: bundle}, key, nil
}

// rotate publishes a rotation of a vault's key; the caller writes the
// checkpoint that follows it (with checkpointNext, at once: the vault
// log is then read ahead, as publishAnchor does).
func (s *Session) rotate(ctx context.Context, vaultID string, checkpointNext bool) error {
	anchored := ""
	if checkpointNext {
		anchored = vaultID
	}
	return s.publishAll(ctx, "", nil, anchored, func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(vaultID)
		if !s.org.RoleOf(v, s.keys.UserID, time.Now()).CanManage() {
			return nil, refuse(ErrNotManager, "only an owner or a manager can rotate a vault's key")
		}
		st, _, err := s.rotation(s.org, v, time.Now())
		return []certificate.Statement{st}, err
	})
}

// RotateVault gives a vault a new key, sealed to its current members only:
// whoever left can decrypt nothing written afterwards (SECURITY.md A16).
// The checkpoint that anchors the vault log at the rotation follows.
func (s *Session) RotateVault(ctx context.Context, ref string) (VaultInfo, error) {
	v, err := s.findVault(ref)
	if err != nil {
		return VaultInfo{}, err
	}
	if err := s.rotate(ctx, v.ID, true); err != nil {
		return VaultInfo{}, err
	}
	if err := s.checkpoint(ctx, v.ID); err != nil {
		return VaultInfo{}, err
	}
	v, _ = s.org.Vault(v.ID)
	return s.vaultInfo(v, time.Now())
}

// ShareVault grants (or changes) a user's role, optionally until a time.
// A new member gets the newest key sealed to their key from the verified
// log; if a member left since that key, the key is rotated first. A grant
// of a key or a rotation is followed by the vault log's checkpoint.
func (s *Session) ShareVault(ctx context.Context, ref, userRef string, role certificate.Role, until time.Time) (*certificate.User, error) {
	if err := certificate.CheckGrantEnd(role, until); err != nil {
		return nil, err
	}
	v, err := s.findVault(ref)
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
			return nil, refuse(ErrNotManager, "only an owner or a manager can share this vault")
		}
		u, err := s.FindUser(userRef)
		if err != nil {
			return nil, err
		}
		if u.Revoked() {
			return nil, refuse(ErrUserRevoked, "%s is revoked", u.Email)
		}
		target = u
		grant := certificate.VaultRoleSet{VaultID: v.ID, UserID: u.ID, Role: role, Until: until}
		var stmts []certificate.Statement
		if s.org.RoleOf(v, u.ID, now) == certificate.RoleNone || v.Keyless(u.ID) {
			index, key := v.KeyIndex(), crypto.SecretKey{}
			if s.org.NeedsRotation(v, now) {
				st, k, err := s.rotation(s.org, v, now)
				if err != nil {
					return nil, err
				}
				stmts, key, index, rotated = append(stmts, st), k, index+1, true
			} else {
				keys, err := s.openKeys(s.org, v)
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

// UnshareVault removes members and rotates the key once for all of them,
// in one append; the checkpoint follows.
func (s *Session) UnshareVault(ctx context.Context, ref string, userRefs ...string) error {
	v, err := s.findVault(ref)
	if err != nil {
		return err
	}
	err = s.publishAnchor(ctx, v.ID, func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(v.ID)
		now := time.Now()
		if !s.org.RoleOf(v, s.keys.UserID, now).CanManage() {
			return nil, refuse(ErrNotManager, "only an owner or a manager can unshare this vault")
		}
		var stmts []certificate.Statement
		after := s.org.Clone()
		for _, ref := range userRefs {
			u, err := s.FindUser(ref)
			if err != nil {
				return nil, err
			}
			if s.org.RoleOf(v, u.ID, now) == certificate.RoleNone {
				return nil, refuse(ErrNotVaultMember, "%s is not a member of this vault", u.Email)
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
		if errors.Is(err, ErrAwaitingUserKeys) {
			// The removal alone: the vault needs a new key, which waits
			// for that member's new keys (SPEC.md §15.2); writes wait too.
			return stmts, nil
		}
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
	v, err := s.findVault(ref)
	if err != nil {
		return err
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(v.ID)
		keys, err := s.openKeys(s.org, v)
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
	v, err := s.findVault(ref)
	if err != nil {
		return err
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		return []certificate.Statement{certificate.VaultArchived{VaultID: v.ID, Archived: archived}}, nil
	})
}
