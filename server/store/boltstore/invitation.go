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
		org, err := orgBucket(tx, inv.OrgID)
		if err != nil {
			return err
		}
		if org.Bucket(bucketInv).Get([]byte(inv.ID)) != nil {
			return store.ErrExists
		}
		return putInvitation(org, inv, nil)
	})
	if err != nil {
		return fmt.Errorf("creating invitation %s in %s: %w", inv.ID, inv.OrgID, err)
	}
	return nil
}

// putInvitation writes inv and moves its token index entry from oldToken.
func putInvitation(org *bolt.Bucket, inv store.Invitation, oldToken []byte) error {
	tokens := org.Bucket(bucketInvTok)
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
	return org.Bucket(bucketInv).Put([]byte(inv.ID), v)
}

// Invitation returns one invitation by id.
func (s *Store) Invitation(ctx context.Context, orgID, id string) (store.Invitation, error) {
	var inv store.Invitation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		org, err := orgBucket(tx, orgID)
		if err != nil {
			return err
		}
		inv, err = getInvitation(org, orgID, id)
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
		org, err := orgBucket(tx, orgID)
		if err != nil {
			return err
		}
		id := org.Bucket(bucketInvTok).Get(tokenHash)
		if id == nil {
			return fmt.Errorf("invitation %w", store.ErrNotFound)
		}
		inv, err = getInvitation(org, orgID, string(id))
		return err
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
		org, err := orgBucket(tx, orgID)
		if err != nil {
			return err
		}
		return org.Bucket(bucketInv).ForEach(func(k, v []byte) error {
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
	org, err := orgBucket(tx, orgID)
	if err != nil {
		return store.Invitation{}, err
	}
	inv, err := getInvitation(org, orgID, id)
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
	return inv, putInvitation(org, inv, old)
}

func getInvitation(org *bolt.Bucket, orgID, id string) (store.Invitation, error) {
	v := org.Bucket(bucketInv).Get([]byte(id))
	if v == nil {
		return store.Invitation{}, fmt.Errorf("invitation %w", store.ErrNotFound)
	}
	return decodeInvitation(orgID, id, v)
}
