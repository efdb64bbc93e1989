package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// FreshnessWindow is how old, by this device's clock, the server's signed
// heads may be for a write to go ahead (SPEC.md §4.4).
const FreshnessWindow = 5 * time.Minute

var (
	// ErrNotFresh is returned, before anything is signed, when the server
	// did not vouch within FreshnessWindow, with a valid signature, that
	// this device's view of the organisation and vault logs is the newest.
	ErrNotFresh = errors.New("nothing was written: the server did not confirm that this device's view is current")
	// ErrServerMisbehaved is returned when the server signed a head that
	// contradicts the log this device verified: the signed statement is
	// kept as proof and VerifyAudit reports it.
	ErrServerMisbehaved = errors.New("nothing was written: the server signed a head that contradicts the verified log")
)

var (
	bucketServerHeads  = []byte("server-heads")
	bucketServerProofs = []byte("server-proofs")
)

// signedHead is a head statement whose signature verified.
type signedHead struct {
	raw  *coffrev1.GetHeadResponse
	cert *x509.Certificate
	st   *coffrev1.HeadStatement
}

func (h signedHead) describe() string {
	return fmt.Sprintf("the server signed at %s that the organisation log ends at %d (%x) and vault %s's at %d",
		time.UnixMilli(h.st.GetTimeMs()).UTC().Format(time.RFC3339), h.st.GetOrganisationPosition(),
		h.st.GetOrganisationHash(), h.st.GetVaultId(), h.st.GetVaultPosition())
}

// fetchHead asks the server to sign its heads and checks the signature
// with the key of the TLS certificate this very connection authenticated.
func (s *Session) fetchHead(ctx context.Context, vaultID string) (signedHead, error) {
	var p peer.Peer
	resp, err := s.conn.api.GetHead(ctx, &coffrev1.GetHeadRequest{VaultId: vaultID}, grpc.Peer(&p))
	if err != nil {
		return signedHead{}, fmt.Errorf("%w: %w", ErrNotFresh, fromServer(s.conn.address, err))
	}
	return s.checkHead(&p, resp, vaultID)
}

// checkHead checks a signed head the server sent on the connection of
// peer p, in answer to GetHead or with a VaultRead: signed with the key of
// the TLS certificate that connection authenticated, for this
// organisation and vault.
func (s *Session) checkHead(p *peer.Peer, resp *coffrev1.GetHeadResponse, vaultID string) (signedHead, error) {
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 || !bytes.Equal(info.State.PeerCertificates[0].Raw, resp.GetCertificate()) {
		return signedHead{}, fmt.Errorf("%w: the head was not signed with this connection's TLS key", ErrNotFresh)
	}
	h, err := parseSignedHead(resp)
	if err != nil {
		return signedHead{}, fmt.Errorf("%w: %w", ErrNotFresh, err)
	}
	if h.st.GetOrganisationId() != s.org.ID || h.st.GetVaultId() != vaultID {
		return signedHead{}, fmt.Errorf("%w: a head signed for another organisation or vault", ErrNotFresh)
	}
	return h, nil
}

func parseSignedHead(resp *coffrev1.GetHeadResponse) (signedHead, error) {
	cert, err := x509.ParseCertificate(resp.GetCertificate())
	if err != nil {
		return signedHead{}, fmt.Errorf("the head's certificate does not parse: %w", err)
	}
	if err := crypto.VerifyWithTLSCertificate(cert, wire.HeadContext, resp.GetStatement(), resp.GetSignature()); err != nil {
		return signedHead{}, fmt.Errorf("the head's signature: %w", err)
	}
	var st coffrev1.HeadStatement
	if err := proto.Unmarshal(resp.GetStatement(), &st); err != nil || st.GetFormatVersion() != 1 {
		return signedHead{}, errors.New("the head statement does not parse")
	}
	return signedHead{raw: resp, cert: cert, st: &st}, nil
}

// ConfirmFresh is called by a vault's commit after it synced and before it
// signs: the server must sign (with that sync's log, else in answer to
// GetHead), within FreshnessWindow of this device's clock, exactly the
// organisation head the entry will claim and the vault head it extends. A
// head ahead of this device's means the device was
// kept behind (or someone just wrote: for the vault log, certificate.ErrConflict makes
// commit read again); a head behind or beside it is proof of misbehaviour,
// kept for `coffre audit --verify` (SPEC.md §4.4, SECURITY.md A36).
func (r *remote) ConfirmFresh(ctx context.Context, vaultID string, keyIndex uint32, org, vault certificate.Head) error {
	r.mu.Lock()
	read := r.read
	r.read = nil
	r.mu.Unlock()
	// Heads that came with the log of the write's sync save a GetHead;
	// once no longer fresh (a long upload), it asks for new ones.
	if read != nil && read.st.GetVaultId() == vaultID {
		if err := r.confirm(ctx, *read, vaultID, keyIndex, org, vault); !errors.Is(err, ErrNotFresh) {
			return err
		}
	}
	h, err := r.s.fetchHead(ctx, vaultID)
	if err != nil {
		return err
	}
	return r.confirm(ctx, h, vaultID, keyIndex, org, vault)
}

// confirm is ConfirmFresh's check of one signed head h.
func (r *remote) confirm(ctx context.Context, h signedHead, vaultID string, keyIndex uint32, org, vault certificate.Head) error {
	s := r.s
	// Certificates appended since this vault was opened: fetch and verify
	// them; the write may go ahead, claiming its older position, if none
	// of them touched what it relies on (SPEC.md §4.4).
	if pos := h.st.GetOrganisationPosition(); pos > s.org.Head.Position {
		if err := s.Sync(ctx); err != nil {
			return err
		}
		if pos > s.org.Head.Position {
			// Kept apart, never replaced: only an audit can check it.
			if err := s.state.keepSigned(bucketServerHeads, nil, h.raw); err != nil {
				return err
			}
			return fmt.Errorf("%w: the server signs organisation head %d and shows this device %d", ErrNotFresh, pos, s.org.Head.Position)
		}
	}
	st := h.st
	// Only a hash that differs from this device's chain at a position it
	// verified proves a lie; an older head with the right hash may be a
	// true statement replayed, and is merely not fresh.
	contradiction := ""
	pos := st.GetOrganisationPosition()
	if mine, ok := s.org.HashAt(pos); ok && pos <= s.org.Head.Position && !bytes.Equal(mine, st.GetOrganisationHash()) {
		contradiction = fmt.Sprintf("organisation log: another entry at %d", pos)
	}
	if st.GetVaultPosition() == vault.Position && !bytes.Equal(st.GetVaultHash(), vault.Hash) {
		contradiction = fmt.Sprintf("vault log: another entry at %d", vault.Position)
	}
	if contradiction != "" {
		if err := s.state.keepServerProof(h.raw); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s (%s)", ErrServerMisbehaved, contradiction, h.describe())
	}
	if err := s.fresh(st, vaultID, keyIndex, org, vault); err != nil {
		if err := s.state.keepServerHead(vaultID, h.raw); err != nil {
			return err
		}
		return err
	}
	// The write goes ahead: its Append keeps the statement, with the entry
	// once accepted (remote.persist), else alone.
	r.mu.Lock()
	r.confirmed = h.raw
	r.mu.Unlock()
	return nil
}

// fresh is ConfirmFresh's verdict on a statement that contradicts nothing
// this device verified: nil if the write under keyIndex may go ahead.
func (s *Session) fresh(st *coffrev1.HeadStatement, vaultID string, keyIndex uint32, org, vault certificate.Head) error {
	pos := st.GetOrganisationPosition()
	switch age := time.Since(time.UnixMilli(st.GetTimeMs())); {
	case age > FreshnessWindow || age < -FreshnessWindow:
		return fmt.Errorf("%w: its signed heads are %s old (at most %s)", ErrNotFresh, age.Round(time.Second), FreshnessWindow)
	case pos < org.Position:
		return fmt.Errorf("%w: the server signs organisation head %d, this device verified %d", ErrNotFresh, pos, org.Position)
	case pos > org.Position && !s.unchangedFor(vaultID, keyIndex):
		return fmt.Errorf("%w: the vault's members or key changed since it was opened (run the command again)", ErrNotFresh)
	case st.GetVaultPosition() > vault.Position:
		return certificate.ErrConflict // someone wrote since the sync: read again
	case st.GetVaultPosition() < vault.Position:
		return fmt.Errorf("%w: the server signs vault head %d, this device verified %d", ErrNotFresh, st.GetVaultPosition(), vault.Position)
	}
	return nil
}

// unchangedFor reports whether a write under key keyIndex is still one
// this user may make in the newest verified organisation: same newest
// key, no rotation pending, a write role, not archived.
func (s *Session) unchangedFor(vaultID string, keyIndex uint32) bool {
	v, ok := s.org.Vault(vaultID)
	now := time.Now()
	return ok && v.KeyIndex() == keyIndex && !v.Archived && !s.org.NeedsRotation(v, now) &&
		s.org.RoleOf(v, s.keys.UserID, now).CanWrite()
}

// keepServerHead keeps the newest signed head of a vault, encrypted, in a
// slot named by a keyed hash of the vault id.
func (s *localState) keepServerHead(vaultID string, h *coffrev1.GetHeadResponse) error {
	return s.keepSigned(bucketServerHeads, s.serverHeadSlot(vaultID), h)
}

func (s *localState) serverHeadSlot(vaultID string) []byte {
	slot := crypto.LabeledSum("state/server-head", s.key.Bytes(), []byte(vaultID))
	return slot[:]
}

// keepServerProof keeps a signed head that contradicted the verified log.
func (s *localState) keepServerProof(h *coffrev1.GetHeadResponse) error {
	return s.keepSigned(bucketServerProofs, nil, h)
}

func (s *localState) keepSigned(bucket, slot []byte, h *coffrev1.GetHeadResponse) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return s.putSigned(tx, bucket, slot, h) })
	if err != nil {
		return fmt.Errorf("saving local state %s: %w", s.path, err)
	}
	return nil
}

// putSigned is keepSigned within tx; a nil slot is the next in sequence.
func (s *localState) putSigned(tx *bolt.Tx, bucket, slot []byte, h *coffrev1.GetHeadResponse) error {
	data, err := proto.Marshal(h)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	if slot == nil {
		n, _ := b.NextSequence()
		slot = posKey(n)
	}
	return b.Put(slot, s.key.Encrypt(s.aad(string(bucket), 0), data))
}

// signedHeads returns the kept signed heads, and the proofs.
func (s *localState) signedHeads() (heads, proofs []signedHead, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, bucket := range [][]byte{bucketServerHeads, bucketServerProofs} {
			b := tx.Bucket(bucket)
			if b == nil {
				continue
			}
			err := b.ForEach(func(_, v []byte) error {
				data, err := s.key.Decrypt(s.aad(string(bucket), 0), v)
				var raw coffrev1.GetHeadResponse
				if err != nil || proto.Unmarshal(data, &raw) != nil {
					return fmt.Errorf("%w: a kept server head does not decrypt", ErrCorruptState)
				}
				h, err := parseSignedHead(&raw)
				if err != nil {
					return fmt.Errorf("%w: a kept server head: %w", ErrCorruptState, err)
				}
				if bytes.Equal(bucket, bucketServerProofs) {
					proofs = append(proofs, h)
				} else {
					heads = append(heads, h)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return heads, proofs, err
}

// checkSignedHeads compares every kept signed head with the organisation
// log fetched again from position 1: a signed head beyond it, or whose
// hash is not the log's at its position, is proof that the server lied
// (SPEC.md §4.4). Proofs kept at write time are reported too.
func (s *Session) checkSignedHeads(fresh *certificate.Organisation) ([]string, error) {
	heads, proofs, err := s.state.signedHeads()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range proofs {
		out = append(out, "contradicted at write time: "+h.describe())
	}
	for _, h := range heads {
		pos := h.st.GetOrganisationPosition()
		switch hash, ok := fresh.HashAt(pos); {
		case pos > fresh.Head.Position:
			out = append(out, fmt.Sprintf("%s, but now shows %d entries", h.describe(), fresh.Head.Position))
		case !ok || !bytes.Equal(hash, h.st.GetOrganisationHash()):
			out = append(out, fmt.Sprintf("%s, but its entry at %d is another", h.describe(), pos))
		}
	}
	return out, nil
}
