package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// CreateInvitation records inv and indexes its token hash.
func (s *Store) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	if inv.ID == "" || len(inv.TokenHash) == 0 {
		return fmt.Errorf("creating invitation %q: empty id or token hash", inv.ID)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		invs, tokens, err := invitationBuckets(tx, inv.OrgID)
		if err != nil {
			return err
		}
		if invs.Get([]byte(inv.ID)) != nil {
			return store.ErrExists
		}
		return putInvitation(invs, tokens, inv, nil)
	})
	if err != nil {
		return fmt.Errorf("creating invitation %s in %s: %w", inv.ID, inv.OrgID, err)
	}
	return nil
}

// invitationBuckets returns an organisation's invitations and their
// token index.
func invitationBuckets(tx *bolt.Tx, orgID string) (invs, tokens *bolt.Bucket, err error) {
	if invs, err = orgSub(tx, orgID, bucketInv); err != nil {
		return nil, nil, err
	}
	if tokens, err = orgSub(tx, orgID, bucketInvTok); err != nil {
		return nil, nil, err
	}
	return invs, tokens, nil
}

// putInvitation writes inv and moves its token index entry from oldToken.
func putInvitation(invs, tokens *bolt.Bucket, inv store.Invitation, oldToken []byte) error {
	if !bytes.Equal(inv.TokenHash, oldToken) {
		if len(inv.TokenHash) == 0 {
			return errors.New("empty token hash")
		}
		if tokens.Get(inv.TokenHash) != nil {
			return fmt.Errorf("token hash: %w", store.ErrExists)
		}
		if oldToken != nil {
			if err := tokens.Delete(oldToken); err != nil {
				return err
			}
		}
		if err := tokens.Put(inv.TokenHash, []byte(inv.ID)); err != nil {
			return err
		}
	}
	v, err := encodeInvitation(inv)
	if err != nil {
		return err
	}
	return invs.Put([]byte(inv.ID), v)
}

// Invitation returns one invitation by id.
func (s *Store) Invitation(ctx context.Context, orgID, id string) (store.Invitation, error) {
	var inv store.Invitation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		invs, err := orgSub(tx, orgID, bucketInv)
		if err != nil {
			return err
		}
		inv, err = getInvitation(invs, orgID, id)
		return err
	})
	if err != nil {
		return store.Invitation{}, fmt.Errorf("reading invitation %s of %s: %w", id, orgID, err)
	}
	return inv, nil
}

// InvitationByToken looks the token hash up in the index.
func (s *Store) InvitationByToken(ctx context.Context, orgID string, tokenHash []byte) (store.Invitation, error) {
	var inv store.Invitation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		invs, tokens, err := invitationBuckets(tx, orgID)
		if err != nil {
			return err
		}
		id := tokens.Get(tokenHash)
		if id == nil {
			return fmt.Errorf("invitation %w", store.ErrNotFound)
		}
		inv, err = getInvitation(invs, orgID, string(id))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("token index names invitation %q, which does not exist: %w", id, store.ErrCorrupt)
		case err != nil:
			return err
		case !bytes.Equal(inv.TokenHash, tokenHash):
			// A damaged index must not let one invitation's token open another.
			return fmt.Errorf("token index names invitation %q, of another token: %w", id, store.ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return store.Invitation{}, fmt.Errorf("reading invitation by token of %s: %w", orgID, err)
	}
	return inv, nil
}

// Invitations lists an organisation's invitations, oldest first.
func (s *Store) Invitations(ctx context.Context, orgID string) ([]store.Invitation, error) {
	var invs []store.Invitation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := orgSub(tx, orgID, bucketInv)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			inv, err := decodeInvitation(orgID, string(k), v)
			invs = append(invs, inv)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing invitations of %s: %w", orgID, err)
	}
	slices.SortStableFunc(invs, func(a, b store.Invitation) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return invs, nil
}

// UpdateInvitation applies fn to one invitation in a write transaction.
func (s *Store) UpdateInvitation(ctx context.Context, orgID, id string, fn func(*store.Invitation) error) (store.Invitation, error) {
	var inv store.Invitation
	var fnErr error
	err := s.update(ctx, func(tx *bolt.Tx) (err error) {
		inv, err = updateInvitation(tx, orgID, id, func(i *store.Invitation) error {
			fnErr = fn(i)
			return fnErr
		})
		return err
	})
	switch {
	case fnErr != nil:
		return store.Invitation{}, fnErr
	case err != nil:
		return store.Invitation{}, fmt.Errorf("updating invitation %s of %s: %w", id, orgID, err)
	}
	return inv, nil
}

func updateInvitation(tx *bolt.Tx, orgID, id string, fn func(*store.Invitation) error) (store.Invitation, error) {
	invs, tokens, err := invitationBuckets(tx, orgID)
	if err != nil {
		return store.Invitation{}, err
	}
	inv, err := getInvitation(invs, orgID, id)
	if err != nil {
		return store.Invitation{}, err
	}
	old := bytes.Clone(inv.TokenHash) // fn may change the hash in place
	if err := fn(&inv); err != nil {
		return store.Invitation{}, err
	}
	if inv.ID != id || inv.OrgID != orgID {
		return store.Invitation{}, errors.New("an invitation's id and organisation cannot change")
	}
	return inv, putInvitation(invs, tokens, inv, old)
}

func getInvitation(invs *bolt.Bucket, orgID, id string) (store.Invitation, error) {
	v := invs.Get([]byte(id))
	if v == nil {
		return store.Invitation{}, fmt.Errorf("invitation %w", store.ErrNotFound)
	}
	return decodeInvitation(orgID, id, v)
}
