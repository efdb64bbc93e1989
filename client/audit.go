package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// AuditEntry is one certificate of the verified history, in words.
type AuditEntry struct {
	Position uint64    `json:"position"`
	Time     time.Time `json:"time"`
	Author   string    `json:"author"`        // "name <email> (device label)", or "root key"
	DeviceID string    `json:"author_device"` // "" for the root key
	Action   string    `json:"action"`
	Hash     string    `json:"hash"`
}

// Audit describes the verified certificate log, oldest first. Vault names
// are shown to members only; other vaults by id.
func (s *Session) Audit() ([]AuditEntry, error) {
	var out []AuditEntry
	replay := certificate.NewOrganisation(s.org.ID, s.org.Root)
	var entries []verifiedEntry
	if err := s.state.each(func(p uint64, data []byte) error {
		entries = append(entries, verifiedEntry{p, data})
		return nil
	}); err != nil {
		return nil, err
	}
	for _, e := range entries {
		before := replay.Clone()
		c, err := replay.Apply(e.position, e.data)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorruptState, err)
		}
		a := AuditEntry{Position: c.Position, Time: c.Time, DeviceID: c.Author, Hash: hex.EncodeToString(replay.Head.Hash)}
		a.Author = "root key"
		if d, ok := before.Device(c.Author); ok {
			// Names from the verified state, which holds the opened
			// identities (SPEC.md §17).
			u, _ := s.org.User(d.UserID)
			a.Author = fmt.Sprintf("%s (%s)", personText(u), d.Label)
		}
		a.Action = s.describe(before, c)
		out = append(out, a)
	}
	return out, nil
}

func (s *Session) describe(org *certificate.Organisation, c *certificate.Certificate) string {
	who := func(id string) string {
		if u, ok := s.org.User(id); ok {
			return personText(u)
		}
		return id
	}
	vault := func(id string) string {
		if v, ok := s.org.Vault(id); ok {
			if keys, err := s.openKeys(s.org, v); err == nil {
				if name, err := workspace.DecryptName(s.org.ID, v, keys); err == nil {
					return fmt.Sprintf("%q (%s)", name, id)
				}
			}
		}
		return "vault " + id
	}
	switch st := c.Statement.(type) {
	case certificate.UserCreated:
		return fmt.Sprintf("enrolled user %s as %s", who(st.UserID), st.Profile)
	case certificate.DeviceAdded:
		return fmt.Sprintf("added device %q (%s) to %s", st.Label, st.DeviceID, who(st.UserID))
	case certificate.UserRevoked:
		return "revoked " + who(st.UserID)
	case certificate.ProfileChanged:
		return fmt.Sprintf("changed the profile of %s to %s", who(st.UserID), st.Profile)
	case certificate.VaultCreated:
		return "created " + vault(st.VaultID)
	case certificate.VaultRoleSet:
		if st.Role == certificate.RoleNone {
			return fmt.Sprintf("removed %s from %s", who(st.UserID), vault(st.VaultID))
		}
		d := fmt.Sprintf("made %s %s of %s", who(st.UserID), st.Role, vault(st.VaultID))
		if !st.Until.IsZero() {
			d += " until " + st.Until.Format(time.RFC3339)
		}
		return d
	case certificate.VaultKeyRotated:
		return fmt.Sprintf("rotated the key of %s to key %d (sealed to %d members)", vault(st.VaultID), st.Key.Index, len(st.Key.Sealed))
	case certificate.VaultRenamed:
		return "renamed " + vault(st.VaultID)
	case certificate.VaultArchived:
		if st.Archived {
			return "archived " + vault(st.VaultID)
		}
		return "restored " + vault(st.VaultID)
	case certificate.DeviceRevoked:
		if d, ok := s.org.Device(st.DeviceID); ok {
			return fmt.Sprintf("revoked device %q (%s) of %s", d.Label, st.DeviceID, who(d.UserID))
		}
		return "revoked device " + st.DeviceID
	case certificate.UserKeysRotated:
		return fmt.Sprintf("rotated the user keys of %s (sealed to %d devices)", who(st.UserID), len(st.Sealed))
	case certificate.EmergencyPolicy, certificate.EmergencyInvoked, certificate.EmergencyApproved,
		certificate.VaultKeyReleased, certificate.VaultOwnershipTaken:
		return describeEmergency(org, st, c, who, vault)
	}
	return fmt.Sprintf("%T", c.Statement)
}

// AuditReport is what Verify found.
type AuditReport struct {
	Positions   uint64 `json:"positions"`
	Head        string `json:"head"`
	ServerHead  uint64 `json:"server_head"`
	Consistent  bool   `json:"consistent"`
	Problem     string `json:"problem,omitempty"`
	Refetched   uint64 `json:"refetched"`
	VerifiedFor string `json:"verified_from"`
	// VaultsChecked counts the vault logs this device verified before
	// and compared again.
	VaultsChecked int `json:"vaults_checked"`
	// ServerMisbehaviour lists the heads the server signed that the log
	// contradicts (SPEC.md §4.4): each is proof, signed with its TLS key.
	ServerMisbehaviour []string `json:"server_misbehaviour,omitempty"`
}

// VerifyAudit fetches the whole organisation log again from position 1,
// verifies it from the root key in the link, and compares it entry by
// entry with what this device verified before: a gap, a rollback or a
// fork is reported (SECURITY.md A13, A14).
func (s *Session) VerifyAudit(ctx context.Context) (AuditReport, error) {
	rep := AuditReport{VerifiedFor: "the root key in the organisation link"}
	fresh := certificate.NewOrganisation(s.org.ID, s.org.Root)
	for {
		resp, err := s.conn.api.GetLog(ctx, &coffrev1.GetLogRequest{From: fresh.Head.Position + 1})
		if err != nil {
			return rep, fromServer(s.conn.address, err)
		}
		rep.ServerHead = resp.GetHeadPosition()
		if len(resp.GetEntries()) == 0 {
			break
		}
		certs, _, err := splitIdentities(s.org.ID, resp.GetEntries())
		if err != nil {
			rep.Problem = err.Error()
			return rep, nil
		}
		for i, e := range resp.GetEntries() {
			if _, err := fresh.Apply(e.GetPosition(), certs[i]); err != nil {
				rep.Problem = fmt.Sprintf("entry %d does not verify: %v", e.GetPosition(), err)
				return rep, nil
			}
			rep.Refetched++
		}
		if fresh.Head.Position >= resp.GetHeadPosition() {
			break
		}
	}
	rep.Positions, rep.Head = fresh.Head.Position, hex.EncodeToString(fresh.Head.Hash)
	switch mine, ok := fresh.HashAt(s.org.Head.Position); {
	case fresh.Head.Position < s.org.Head.Position:
		rep.Problem = fmt.Sprintf("rollback: the server's log ends at %d, this device verified %d", fresh.Head.Position, s.org.Head.Position)
	case rep.ServerHead != fresh.Head.Position:
		rep.Problem = fmt.Sprintf("gap: the server claims %d entries and sent %d", rep.ServerHead, fresh.Head.Position)
	case !ok || !bytes.Equal(mine, s.org.Head.Hash):
		rep.Problem = fmt.Sprintf("fork: from position %d the server's log differs from what this device verified",
			firstDifference(fresh.HashAt, s.org.HashAt, s.org.Head.Position))
	}
	if rep.Problem == "" {
		for _, v := range s.org.Vaults() {
			problem, checked, err := s.verifyVaultLog(ctx, v)
			if err != nil {
				return rep, err
			}
			if checked {
				rep.VaultsChecked++
			}
			if problem != "" {
				rep.Problem = problem
				break
			}
		}
	}
	proofs, err := s.checkSignedHeads(fresh)
	if err != nil {
		return rep, err
	}
	if rep.ServerMisbehaviour = proofs; len(proofs) > 0 && rep.Problem == "" {
		rep.Problem = fmt.Sprintf("the server signed %d head(s) that the log contradicts", len(proofs))
	}
	rep.Consistent = rep.Problem == ""
	return rep, nil
}

// firstDifference returns the first position up to last where two chains'
// hashes differ (last if none does before it).
func firstDifference(theirs, mine func(uint64) ([]byte, bool), last uint64) uint64 {
	for p := uint64(1); p < last; p++ {
		a, okA := theirs(p)
		b, okB := mine(p)
		if !okA || !okB || !bytes.Equal(a, b) {
			return p
		}
	}
	return last
}

// verifyVaultLog fetches again a vault log this device verified and
// compares its chain, position by position, with the entries the device
// stored: a shorter log is a rollback, a different entry a fork, named by
// its first differing position (SECURITY.md A13, A31). Vaults the user is
// no longer a member of can't be read, and are not checked.
func (s *Session) verifyVaultLog(ctx context.Context, v *certificate.Vault) (problem string, checked bool, err error) {
	if s.org.RoleOf(v, s.keys.UserID, time.Now()) == certificate.RoleNone {
		return "", false, nil
	}
	keys, err := s.openKeys(s.org, v)
	if err != nil {
		return "", false, nil
	}
	mine := workspace.NewLog(s.org.ID, v.ID)
	if err := s.state.loadVault(s.org, keys, mine); err != nil {
		return "", false, err
	}
	if mine.Head.Position == 0 {
		return "", false, nil
	}
	theirs := [][]byte{vaultlog.VaultGenesis(s.org.ID, v.ID)}
	r := newRemote(s)
	for {
		entries, head, err := r.Read(ctx, v.ID, uint64(len(theirs)), false, false)
		if err != nil {
			return "", false, err
		}
		for _, e := range entries {
			if e.Position != uint64(len(theirs)) {
				return fmt.Sprintf("vault %s: the server sent entry %d in place of %d", v.ID, e.Position, len(theirs)), true, nil
			}
			theirs = append(theirs, vaultlog.EntryHash(theirs[len(theirs)-1], e.Data))
		}
		if len(entries) == 0 || uint64(len(theirs)) > head {
			break
		}
	}
	at := func(p uint64) ([]byte, bool) {
		if p >= uint64(len(theirs)) {
			return nil, false
		}
		return theirs[p], true
	}
	last := uint64(len(theirs)) - 1
	switch h, ok := at(mine.Head.Position); {
	case ok && bytes.Equal(h, mine.Head.Hash):
		return "", true, nil
	case last < mine.Head.Position && firstDifference(at, mine.HashAt, last+1) > last:
		return fmt.Sprintf("rollback: vault %s's log ends at %d, this device verified %d", v.ID, last, mine.Head.Position), true, nil
	}
	return fmt.Sprintf("fork: from position %d vault %s's log differs from what this device verified",
		firstDifference(at, mine.HashAt, mine.Head.Position), v.ID), true, nil
}
