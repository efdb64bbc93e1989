package boltstore

import (
	"context"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// creditBytes is the storage an organisation's reservation takes beyond
// what it needs when the organisation has no credit left (SPEC.md §7.4).
// Every block stored as a file reserves its size first: one bbolt commit,
// two fdatasyncs, per block was the longest wait of a put (issue 15). With
// the credit, one commit in about creditBytes of blocks; the others take
// from the credit in memory. The credit is counted in the stored usage,
// so the quota holds whatever the credit; it is left out of the usage
// Organisation reports, given back before a reservation or a limit would
// be refused for it, and at Close. A crash leaves it counted: at most
// creditBytes per organisation counted and not stored, as a crash leaves
// the reservations of the puts it interrupted.
const creditBytes = 32 << 20

// credits is the storage reserved durably and not yet taken, by
// organisation.
type credits struct {
	mu        sync.Mutex
	left      map[string]int64
	refilling map[string]bool // one reservation at a time asks for more
}

// take takes n bytes of orgID's credit, if it has that many.
func (c *credits) take(orgID string, n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left[orgID] < n {
		return false
	}
	c.left[orgID] -= n
	return true
}

// startRefill returns how much more than it needs a reservation of
// orgID asks for: creditBytes, unless another is asking already.
func (c *credits) startRefill(orgID string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refilling[orgID] {
		return 0
	}
	if c.refilling == nil {
		c.refilling, c.left = map[string]bool{}, map[string]int64{}
	}
	c.refilling[orgID] = true
	return creditBytes
}

// endRefill adds what a committed reservation took beyond its need.
func (c *credits) endRefill(orgID string, got int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.refilling, orgID)
	if got > 0 {
		c.left[orgID] += got
	}
}

// drop takes all of orgID's credit away, to be given back by the
// transaction that calls it: if that transaction is rolled back, the
// credit stays counted, never taken (the safe side).
func (c *credits) drop(orgID string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.left[orgID]
	delete(c.left, orgID)
	return n
}

func (c *credits) get(orgID string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left[orgID]
}

// reserveIn adds n bytes to o's usage, within its quota, in a transaction
// on o: a quota the credit would exceed gets the credit back first.
func (s *Store) reserveIn(o *store.Organisation, n int64) error {
	over := func() bool { return n > 0 && o.Limits.StorageBytes > 0 && o.UsedBytes+n > o.Limits.StorageBytes }
	if over() {
		o.UsedBytes = max(0, o.UsedBytes-s.credit.drop(o.ID))
		if over() {
			return store.ErrQuotaExceeded
		}
	}
	o.UsedBytes = max(0, o.UsedBytes+n)
	return nil
}

// reserve is ReserveStorage: from the credit if it holds n, else one
// commit that also takes more credit when the quota allows it.
func (s *Store) reserve(ctx context.Context, orgID string, n int64) (int64, error) {
	if n > 0 && s.credit.take(orgID, n) {
		org, err := s.Organisation(ctx, orgID)
		if err != nil {
			return 0, err // n stays counted: the safe side
		}
		return org.UsedBytes, nil
	}
	var extra, got int64
	if n > 0 {
		extra = s.credit.startRefill(orgID)
	}
	org, err := s.updateOrgWith(ctx, s.batch, orgID, func(o *store.Organisation) error {
		got = 0
		if extra > 0 && s.reserveIn(o, n+extra) == nil {
			got = extra
			return nil
		}
		return s.reserveIn(o, n)
	})
	if err != nil {
		got = 0
	}
	if extra > 0 {
		s.credit.endRefill(orgID, got)
	}
	if err != nil {
		return 0, err
	}
	return max(0, org.UsedBytes-s.credit.get(orgID)), nil
}

// giveBackCredit gives every organisation's credit back, in one commit.
func (s *Store) giveBackCredit() error {
	s.credit.mu.Lock()
	ids := make([]string, 0, len(s.credit.left))
	for id, n := range s.credit.left {
		if n > 0 {
			ids = append(ids, id)
		}
	}
	s.credit.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			org, err := getOrg(tx, id)
			if err != nil {
				continue // gone: nothing to give back to
			}
			org.UsedBytes = max(0, org.UsedBytes-s.credit.drop(id))
			v, err := encodeOrg(org)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketOrgs).Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("giving back reserved storage: %w", err)
	}
	return nil
}
