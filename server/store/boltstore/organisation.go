package boltstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// CreateOrganisation records org and creates its buckets.
func (s *Store) CreateOrganisation(ctx context.Context, org store.Organisation) error {
	if org.ID == "" {
		return errors.New("creating organisation: empty id")
	}
	v, err := encodeOrg(org)
	if err != nil {
		return fmt.Errorf("creating organisation %s: %w", org.ID, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		orgs, err := topBucket(tx, bucketOrgs)
		if err != nil {
			return err
		}
		all, err := topBucket(tx, bucketOrg)
		if err != nil {
			return err
		}
		if orgs.Get([]byte(org.ID)) != nil {
			return store.ErrExists
		}
		if err := orgs.Put([]byte(org.ID), v); err != nil {
			return err
		}
		b, err := all.CreateBucket([]byte(org.ID))
		if err != nil {
			return err
		}
		for _, name := range orgBuckets {
			if _, err := b.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("creating organisation %s: %w", org.ID, err)
	}
	return nil
}

// Organisation returns one organisation.
func (s *Store) Organisation(ctx context.Context, id string) (store.Organisation, error) {
	var org store.Organisation
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		org, err = getOrg(tx, id)
		return err
	})
	if err != nil {
		return store.Organisation{}, fmt.Errorf("reading organisation %s: %w", id, err)
	}
	org.UsedBytes = max(0, org.UsedBytes-s.credit.get(id)) // reserved, not stored
	return org, nil
}

// Organisations lists every organisation, by id (bbolt keeps keys sorted).
func (s *Store) Organisations(ctx context.Context) ([]store.Organisation, error) {
	var orgs []store.Organisation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := topBucket(tx, bucketOrgs)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			org, err := decodeOrg(string(k), v)
			org.UsedBytes = max(0, org.UsedBytes-s.credit.get(org.ID))
			orgs = append(orgs, org)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	return orgs, nil
}

// Bootstrap spends the bootstrap token, records the root key and appends
// the first entries in one transaction.
func (s *Store) Bootstrap(ctx context.Context, orgID string, tokenHash, rootKey []byte, entries []store.LogEntry, at time.Time) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		org, err := getOrg(tx, orgID)
		if err != nil {
			return err
		}
		// An empty stored hash means already bootstrapped: it must not
		// match an empty token.
		if len(org.BootstrapTokenHash) == 0 || subtle.ConstantTimeCompare(org.BootstrapTokenHash, tokenHash) != 1 {
			return store.ErrBadToken
		}
		log, err := orgSub(tx, orgID, bucketLog)
		if err != nil {
			return err
		}
		if _, err := appendEntries(log, entries); err != nil {
			return err
		}
		org.BootstrapTokenHash, org.RootVerifyKey, org.BootstrappedAt = nil, rootKey, at
		v, err := encodeOrg(org)
		if err != nil {
			return err
		}
		orgs, err := topBucket(tx, bucketOrgs)
		if err != nil {
			return err
		}
		return orgs.Put([]byte(orgID), v)
	})
	if err != nil {
		return fmt.Errorf("bootstrapping organisation %s: %w", orgID, err)
	}
	return nil
}

func getOrg(tx *bolt.Tx, id string) (store.Organisation, error) {
	orgs, err := topBucket(tx, bucketOrgs)
	if err != nil {
		return store.Organisation{}, err
	}
	v := orgs.Get([]byte(id))
	if v == nil {
		return store.Organisation{}, fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	return decodeOrg(id, v)
}

// updateOrg reads, changes and writes one organisation record.
func (s *Store) updateOrg(ctx context.Context, id string, fn func(*store.Organisation) error) (store.Organisation, error) {
	return s.updateOrgWith(ctx, s.update, id, fn)
}

// updateOrgWith is updateOrg through update (s.update, or s.batch for
// the frequent small changes that other calls may share a commit with).
func (s *Store) updateOrgWith(ctx context.Context, update func(context.Context, func(*bolt.Tx) error) error, id string, fn func(*store.Organisation) error) (store.Organisation, error) {
	var org store.Organisation
	err := update(ctx, func(tx *bolt.Tx) error {
		var err error
		if org, err = getOrg(tx, id); err != nil {
			return err
		}
		if err := fn(&org); err != nil {
			return err
		}
		nv, err := encodeOrg(org)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketOrgs).Put([]byte(id), nv)
	})
	return org, err
}

// SetLimits sets an organisation's quotas.
func (s *Store) SetLimits(ctx context.Context, orgID string, l store.Limits) error {
	// The credit goes back first: a lower limit is checked on what is stored.
	set := func(o *store.Organisation) error {
		o.Limits, o.UsedBytes = l, max(0, o.UsedBytes-s.credit.drop(orgID))
		return nil
	}
	if _, err := s.updateOrg(ctx, orgID, set); err != nil {
		return fmt.Errorf("setting limits of %s: %w", orgID, err)
	}
	return nil
}

// ReserveStorage adds n bytes to the organisation's usage, within its quota.
// It runs once per block stored: from the organisation's credit in memory
// when it holds n (credit.go), else in a synced transaction that takes
// more credit, shared by concurrent reservations (bolt's Batch; one
// refused is run again alone, so its error is its own).
func (s *Store) ReserveStorage(ctx context.Context, orgID string, n int64) (int64, error) {
	used, err := s.reserve(ctx, orgID, n)
	if err != nil {
		return 0, fmt.Errorf("reserving storage for %s: %w", orgID, err)
	}
	return used, nil
}
