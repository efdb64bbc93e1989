package server

import (
	"context"
	gocrypto "crypto"
	"crypto/tls"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
)

// headSigner is the TLS certificate whose key signs head statements.
type headSigner struct {
	key gocrypto.Signer
	der []byte
}

func newHeadSigner(cert tls.Certificate) *headSigner {
	key, ok := cert.PrivateKey.(gocrypto.Signer)
	if !ok || len(cert.Certificate) == 0 {
		return nil
	}
	return &headSigner{key: key, der: cert.Certificate[0]}
}

// errNoHeadKey is returned by GetHead on a server started without a TLS
// key that can sign.
var errNoHeadKey = errors.New("this server has no key to sign heads with")

// GetHead signs, at the server's clock, the organisation's head and a
// vault's head for a member of the vault: a writer needs a fresh one
// before it writes, and keeps it, so that a server withholding entries
// must sign a statement that the chain later contradicts (SPEC.md §4.4).
func (s *Server) GetHead(ctx context.Context, req *coffrev1.GetHeadRequest) (*coffrev1.GetHeadResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), false)
	if err != nil {
		return nil, err
	}
	if s.heads.Load() == nil {
		return nil, errNoHeadKey
	}
	vault, _, org, err := s.readVault(ctx, c.orgID, v.ID, 0, 0, true)
	if err != nil {
		return nil, err
	}
	return s.signHead(c.orgID, v.ID, org, vault)
}

// readVault reads a vault's head, then up to limit of its entries from
// position from, then the organisation's head if withOrgHead: one round
// trip on a store.VaultLogReader.
func (s *Server) readVault(ctx context.Context, orgID, vaultID string, from uint64, limit int, withOrgHead bool) (vault store.Head, entries []store.LogEntry, org store.Head, err error) {
	if r, ok := s.cfg.Store.(store.VaultLogReader); ok {
		return r.ReadVaultLogHeads(ctx, orgID, vaultID, from, limit, withOrgHead)
	}
	if vault, err = s.cfg.Store.VaultLogHead(ctx, orgID, vaultID); err != nil {
		return store.Head{}, nil, store.Head{}, err
	}
	if limit > 0 {
		if entries, err = s.cfg.Store.ReadVaultLog(ctx, orgID, vaultID, from, limit); err != nil {
			return store.Head{}, nil, store.Head{}, err
		}
	}
	if withOrgHead {
		if org, err = s.cfg.Store.LogHead(ctx, orgID); err != nil {
			return store.Head{}, nil, store.Head{}, err
		}
	}
	return vault, entries, org, nil
}

// signHead signs org, the organisation's head, and vault, the head of
// vault vaultID's log, both read after the caller was authenticated
// (GetHead, and VaultRead when asked with_head).
func (s *Server) signHead(orgID, vaultID string, org, vault store.Head) (*coffrev1.GetHeadResponse, error) {
	signer := s.heads.Load()
	if signer == nil {
		return nil, errNoHeadKey
	}
	if vault.Position == 0 {
		vault.Hash = vaultlog.VaultGenesis(orgID, vaultID)
	}
	st, err := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.HeadStatement{
		FormatVersion: 1, OrganisationId: orgID, OrganisationPosition: org.Position, OrganisationHash: org.Hash,
		VaultId: vaultID, VaultPosition: vault.Position, VaultHash: vault.Hash, TimeMs: s.cfg.Now().UnixMilli(),
	})
	if err != nil {
		return nil, err
	}
	sig, err := crypto.SignWithTLSKey(signer.key, wire.HeadContext, st)
	if err != nil {
		return nil, err
	}
	return &coffrev1.GetHeadResponse{Statement: st, Signature: sig, Certificate: signer.der}, nil
}
