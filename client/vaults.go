package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// Reading vaults: what this user may see, and a vault opened to read its
// files. Nothing here writes to the server; the writes a vault may need
// (a rotation, a checkpoint) are PrepareVault's (vaultadmin.go).

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
	// AwaitingKey: this user's grant came without a key (an emergency, a
	// takeover) and no member released it yet (SPEC.md §16); Name is the
	// vault's id meanwhile.
	AwaitingKey bool
}

// Member is one member of a vault.
type Member struct {
	UserID, Name, Email string
	Role                certificate.Role
	Until               time.Time
	// Unknown: this device was not sent the member's name and email
	// (SPEC.md §17); they are empty and the member is shown by id.
	Unknown bool
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
	return s.describeVault(v, now, true)
}

// describeVault is vaultInfo, with Members (and Until) only if members:
// listing and sorting them is most of its cost in a vault of 1,000
// members, and most lookups need only the vault.
func (s *Session) describeVault(v *certificate.Vault, now time.Time, members bool) (VaultInfo, error) {
	name, awaiting := v.ID, v.Keyless(s.keys.UserID)
	if !awaiting {
		keys, err := s.openKeys(s.org, v)
		if err != nil {
			return VaultInfo{}, fmt.Errorf("vault %s: %w", v.ID, err)
		}
		if name, err = workspace.DecryptName(s.org.ID, v, keys); err != nil {
			return VaultInfo{}, fmt.Errorf("vault %s: its name does not decrypt", v.ID)
		}
	}
	info := VaultInfo{ID: v.ID, Name: name, AwaitingKey: awaiting, Role: s.org.RoleOf(v, s.keys.UserID, now), KeyIndex: v.KeyIndex(),
		Archived: v.Archived, NeedsRotation: s.org.NeedsRotation(v, now)}
	for _, g := range v.Grants() {
		if !members {
			break
		}
		if s.org.RoleOf(v, g.UserID, now) == certificate.RoleNone {
			continue
		}
		u, _ := s.org.User(g.UserID)
		info.Members = append(info.Members, Member{UserID: u.ID, Name: u.Name, Email: u.Email, Role: g.Role, Until: g.Until, Unknown: u.Unknown()})
		if g.UserID == s.keys.UserID {
			info.Until = g.Until
		}
	}
	sortMembers(info.Members)
	return info, nil
}

// sortMembers orders members by role, then name, then id (1,000 members
// each time a vault is looked up: slices.SortFunc, without sort.Slice's
// reflection).
func sortMembers(m []Member) {
	slices.SortFunc(m, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), strings.Compare(a.Name, b.Name), strings.Compare(a.UserID, b.UserID))
	})
}

// FindVault resolves a vault by id or by name among this user's vaults.
func (s *Session) FindVault(ref string) (*certificate.Vault, VaultInfo, error) {
	return s.lookupVault(ref, true)
}

// findVault is FindVault for a caller that uses only the vault.
func (s *Session) findVault(ref string) (*certificate.Vault, error) {
	v, _, err := s.lookupVault(ref, false)
	return v, err
}

// lookupVault is FindVault; a vault found by id is described with its
// Members only if members.
func (s *Session) lookupVault(ref string, members bool) (*certificate.Vault, VaultInfo, error) {
	if v, ok := s.org.Vault(ref); ok {
		info, err := s.describeVault(v, time.Now(), members)
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
	return nil, VaultInfo{}, fmt.Errorf("%d vaults are named %q: %w", len(found), ref, ErrAmbiguousVault)
}

// OpenVault opens a vault to read its files: its keys, and its log
// verified from what this device stored and what the server adds. It never
// writes to the server: a key rotation due because a member left
// (VaultInfo.NeedsRotation) is left to PrepareVault or RotateVault, and
// until it is done the vault's writes are refused
// (vaultlog.ErrRotationPending).
//
// A vault log that lacks the checkpoint after the vault's anchor (its
// creation, newest rotation or newest grant of a key, SPEC.md §11.5) may be
// withheld by the server: OpenVault refuses it with workspace.ErrWithheld,
// whoever opens it, rather than show less than the vault holds (SECURITY.md
// A30). When this user may write the checkpoint, the error wraps
// ErrCheckpointDue too: PrepareVault writes it, and the vault then opens.
func (s *Session) OpenVault(ctx context.Context, ref string) (*workspace.Vault, error) {
	var opened *workspace.Vault
	err := s.whileOrganisationBehind(ctx, func() error {
		w, v, err := s.loadVault(ctx, ref)
		if err != nil {
			return err
		}
		if err := s.checkAnchored(w, v); err != nil {
			return err
		}
		opened = w
		return nil
	})
	if err != nil {
		return nil, err
	}
	return opened, nil
}

// whileOrganisationBehind runs fn again, up to 3 times, after fetching the
// organisation log when a vault entry refers to a certificate this device
// has not fetched yet (a member wrote after it; SPEC.md §11.5 Check rule 2).
func (s *Session) whileOrganisationBehind(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if !errors.Is(err, vaultlog.ErrOrganisationBehind) || attempt >= 3 {
			return err
		}
		if err := s.Sync(ctx); err != nil {
			return err
		}
	}
}

// loadVault opens a vault over this device's verified state and syncs its
// log with the server's. It reads only; the caller checks the anchor.
func (s *Session) loadVault(ctx context.Context, ref string) (*workspace.Vault, *certificate.Vault, error) {
	w, v, err := s.verifiedVault(ref)
	if err != nil {
		return nil, nil, err
	}
	if err := w.Sync(ctx); err != nil {
		return nil, nil, err
	}
	return w, v, nil
}

// LocalVault opens a vault as this device verified it last, without the
// server: its tree for a shell completion, where a round trip per Tab is
// too slow. It may be behind the server, and a vault the server withholds
// entries of is not refused here (OpenVault is what reads files).
func (s *Session) LocalVault(ref string) (*workspace.Vault, error) {
	w, _, err := s.verifiedVault(ref)
	return w, err
}

// verifiedVault opens a vault over this device's verified state only.
func (s *Session) verifiedVault(ref string) (*workspace.Vault, *certificate.Vault, error) {
	v, err := s.findVault(ref)
	if err != nil {
		return nil, nil, err
	}
	keys, err := s.openKeys(s.org, v)
	if err != nil {
		return nil, nil, err
	}
	log := workspace.NewLog(s.org.ID, v.ID)
	if err := s.state.loadVault(s.org, keys, log); err != nil {
		return nil, nil, err
	}
	r := newRemote(s)
	w := workspace.Open(workspace.Deps{Org: s.org, Vault: v, Keys: keys, Log: log,
		Remote: r, Blocks: r, Cache: r, Journal: r, Persist: r.persist,
		Writer: workspace.Writer{DeviceID: s.keys.DeviceID, UserID: s.keys.UserID, Key: s.keys.SigningKey},
	})
	return w, v, nil
}

// checkAnchored refuses a vault log in which no entry claims an
// organisation position at or after the vault's anchor: the organisation
// log proves the checkpoint was due, so either the server withholds it
// (and maybe more), or it never landed (a crash, a server that dropped
// it). A reader can't tell which (SECURITY.md A30); a member who may
// write can repair it, with PrepareVault.
func (s *Session) checkAnchored(w *workspace.Vault, v *certificate.Vault) error {
	if !w.NeedsCheckpoint() {
		return nil
	}
	err := fmt.Errorf("%w: the vault log has %d entries, none claiming organisation position %d or later",
		workspace.ErrWithheld, w.Log().Head.Position, v.AnchorPosition())
	if s.mayCheckpoint(v) {
		return fmt.Errorf("%w: %w", ErrCheckpointDue, err)
	}
	return err
}

// mayCheckpoint reports whether this user may write a vault's checkpoint
// now: the rules of any write (a write role, not archived, no rotation
// pending).
func (s *Session) mayCheckpoint(v *certificate.Vault) bool {
	now := time.Now()
	return !v.Archived && s.org.RoleOf(v, s.keys.UserID, now).CanWrite() && !s.org.NeedsRotation(v, now)
}
