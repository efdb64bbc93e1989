package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// The organisation log: fetching and verifying it (Sync, SPEC.md §4.3) and
// appending certificates to it (publish, §3).

// Sync fetches the log entries after the verified head, verifies each from
// the root key and the rules, and only then stores them with the new head.
// A log shorter than the verified head is a rollback; entries that don't
// extend it are a fork. Either way nothing is stored (SECURITY.md A13, A14).
func (s *Session) Sync(ctx context.Context) error {
	if err := s.syncLog(ctx); err != nil {
		return err
	}
	return s.fetchIdentities(ctx)
}

// syncLog is Sync's reading of the log, page by page. The next page is
// asked for while this one is verified (a first sync of a large
// organisation overlaps the server's reading and the network with the
// client's checks), and verified pages are stored together, up to
// saveEvery entries in one local transaction, on a goroutine of their own
// while the next pages are verified: the stored state is always that of a
// whole number of verified pages (SPEC.md §4.3 step 5). The session takes
// the new state once every page is verified and stored; after an error it
// keeps the one it had, which the file may have passed (a later Sync
// finds those entries stored and checks they are the same).
func (s *Session) syncLog(ctx context.Context) error {
	st := s.state.storeInOrder()
	work, err := s.readLog(ctx, st)
	if serr := st.wait(); err == nil {
		err = serr
	}
	if err == nil && work != nil {
		s.org = work
	}
	return err
}

// readLog reads and verifies the log beyond the session's state, hands
// the verified pages to st, and returns the state they reach (nil:
// nothing new).
func (s *Session) readLog(ctx context.Context, st *orderedStore) (*certificate.Organisation, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type page struct {
		resp *coffrev1.GetLogResponse
		err  error
	}
	fetch := func(from uint64) <-chan page {
		ch := make(chan page, 1)
		go func() {
			resp, err := s.conn.api.GetLog(ctx, &coffrev1.GetLogRequest{From: max(from, 1)})
			ch <- page{resp, err}
		}()
		return ch
	}
	// work is the verified state beyond s.org (nil: none); pending its
	// entries not handed to st yet, openings the identity openings that
	// came with them, since the head where they begin.
	var (
		work     *certificate.Organisation
		pending  []verifiedEntry
		openings map[string][]byte
		since    uint64
	)
	// hand gives st the pending entries, once the openings that came with
	// them open their users' commitments and bring no email another
	// active user holds (SPEC.md §17): checked once for all of them, not
	// at each page, since the check reads every user. last: with the
	// snapshot of the state they reach, if due, in the same transaction
	// (SPEC.md §9).
	hand := func(last bool) error {
		if len(pending) == 0 {
			return nil
		}
		if err := showIdentities(work, openings, since); err != nil {
			return fmt.Errorf("%w: %w", ErrBadLog, err)
		}
		var snap *certificate.Organisation
		if last {
			snap = work
		}
		st.store(pending, openings, work.Head, snap)
		pending, openings, since = nil, nil, work.Head.Position
		return nil
	}
	next := fetch(s.org.Head.Position)
	for {
		p := <-next
		if p.err != nil {
			return nil, fromServer(s.conn.address, p.err)
		}
		resp := p.resp
		at := s.org
		if work != nil {
			at = work
		}
		mine := at.Head.Position
		if resp.GetHeadPosition() < mine {
			return nil, fmt.Errorf("%w: the server's log ends at %d, this device verified up to %d", certificate.ErrRollback, resp.GetHeadPosition(), mine)
		}
		entries := resp.GetEntries()
		certs, pageOpenings, err := splitIdentities(s.org.ID, entries)
		if err != nil {
			return nil, err
		}
		// The entry at the verified head comes first: another one there is
		// a fork, even of equal length (SECURITY.md A31).
		if mine > 0 {
			if len(entries) == 0 || entries[0].GetPosition() != mine {
				return nil, fmt.Errorf("%w: the server does not send the entry at the verified head %d", ErrBadLog, mine)
			}
			prev, _ := at.HashAt(mine - 1)
			if !bytes.Equal(certificate.EntryHash(prev, certs[0]), at.Head.Hash) {
				return nil, fmt.Errorf("%w: the server's entry %d is not the one this device verified", certificate.ErrFork, mine)
			}
			entries, certs = entries[1:], certs[1:]
		}
		if len(entries) == 0 {
			if resp.GetHeadPosition() > mine {
				return nil, fmt.Errorf("%w: the server claims entries up to %d but sends none", ErrBadLog, resp.GetHeadPosition())
			}
			return work, hand(true)
		}
		// The next page, if the server says there is one, while this one is
		// checked; it is used only if this one verifies.
		lastPos := entries[len(entries)-1].GetPosition()
		more := resp.GetHeadPosition() > lastPos
		if more {
			next = fetch(lastPos)
		}
		if work == nil {
			work, since = s.org.Clone(), s.org.Head.Position
		}
		batch := make([]certificate.Entry, len(entries))
		for i, e := range entries {
			batch[i] = certificate.Entry{Position: e.GetPosition(), Data: certs[i]}
			pending = append(pending, verifiedEntry{position: e.GetPosition(), data: certs[i]})
		}
		if _, err := work.ApplyAll(batch); err != nil {
			if errors.Is(err, certificate.ErrChain) {
				return nil, fmt.Errorf("%w: %w", certificate.ErrFork, err)
			}
			return nil, fmt.Errorf("%w: %w", ErrBadLog, err)
		}
		for id, o := range pageOpenings {
			if openings == nil {
				openings = map[string][]byte{}
			}
			openings[id] = o
		}
		if !more || work.Head.Position >= resp.GetHeadPosition() {
			return work, hand(true)
		}
		if len(pending) >= saveEvery {
			if err := hand(false); err != nil {
				return nil, err
			}
		}
	}
}

// saveEvery is how many verified log entries a Sync keeps before storing
// them (a crash loses at most that much verification, never the state's
// consistency).
const saveEvery = 5000

// publish signs statements at the verified head and appends them, reading
// the log again and re-signing when someone else appended first.
func (s *Session) publish(ctx context.Context, invitationID string, stmts func() ([]certificate.Statement, error)) error {
	return s.publishAll(ctx, invitationID, nil, "", stmts)
}

// publishAnchor is publish for statements that give vaultID a new anchor
// (a rotation), which the caller follows at once with the vault's
// checkpoint: once the server has appended them, the checkpoint's read
// of the vault log goes out while they are stored here (readahead.go).
func (s *Session) publishAnchor(ctx context.Context, vaultID string, stmts func() ([]certificate.Statement, error)) error {
	return s.publishAll(ctx, "", nil, vaultID, stmts)
}

// publishWithIdentities is publish, sending beside each certificate that
// creates a user in openings its identity opening (SPEC.md §17).
func (s *Session) publishWithIdentities(ctx context.Context, invitationID string, openings map[string][]byte, stmts func() ([]certificate.Statement, error)) error {
	return s.publishAll(ctx, invitationID, openings, "", stmts)
}

// publishAll is publish with identity openings, and the vault whose
// checkpoint follows (publishAnchor), if any.
func (s *Session) publishAll(ctx context.Context, invitationID string, openings map[string][]byte, anchored string, stmts func() ([]certificate.Statement, error)) error {
	for attempt := 0; ; attempt++ {
		if err := s.Sync(ctx); err != nil {
			return err
		}
		list, err := stmts()
		if err != nil {
			return err
		}
		certs, err := s.org.SignNext(s.keys.SigningKey, s.keys.DeviceID, time.Now(), list...)
		if err != nil {
			return err
		}
		// Check the rules here first: the person gets the rule they broke,
		// not only the server's "certificate refused".
		probe := s.org.Clone()
		for _, c := range certs {
			var rule *certificate.RuleError
			if _, err := probe.Apply(probe.Head.Position+1, c); errors.As(err, &rule) {
				return fmt.Errorf("%w: %s", ErrNotAllowed, rule.Reason)
			} else if err != nil {
				return err
			}
		}
		if certs, err = withIdentities(list, certs, openings); err != nil {
			return err
		}
		signedAt := s.org.Head.Position
		resp, err := s.conn.api.AppendCertificates(ctx, &coffrev1.AppendCertificatesRequest{Certificates: certs, InvitationId: invitationID})
		err = fromServer(s.conn.address, err)
		if errors.Is(err, certificate.ErrConflict) && attempt < 5 {
			if err := s.Sync(ctx); err != nil {
				return err
			}
			// Refused at head + 1 while showing the same head: the
			// server holds another branch (SECURITY.md A31).
			if s.org.Head.Position == signedAt {
				return fmt.Errorf("%w: the server refuses position %d after the head %d it shows", certificate.ErrFork, signedAt+1, signedAt)
			}
			continue
		}
		if err != nil {
			return err
		}
		if invitationID == "" && len(openings) == 0 && resp.GetHeadPosition() == signedAt+uint64(len(certs)) {
			if anchored == "" {
				return s.adoptAppended(ctx, probe, certs, false)
			}
			s.readVaultAhead(ctx, anchored)
			err := s.adoptAppended(ctx, probe, certs, true)
			if err != nil { // no checkpoint follows
				s.dropReadAhead()
				err = errors.Join(err, s.settle())
			}
			return err
		}
		return s.Sync(ctx)
	}
}

// adoptAppended makes probe, the verified state with certs applied, the
// session's state after the server acknowledged appending certs right
// after the head they were signed at: what Sync would fetch back, verify
// and store is those very bytes applied to the same state by the same
// rules, so they are stored as verified without fetching them again (a
// rotation in a vault of 1,000 members is 1 MB). Nothing the server sends
// is accepted here but the acknowledgement; a server that acknowledged and
// did not keep them shows, at the next read, no entry or another one at
// this head: a rollback or a fork (SECURITY.md A13, A31). Entries that
// carry identity openings, and enrolments, go through Sync.
//
// With aside (a rotation, whose checkpoint follows: publishAnchor), they
// are stored on another goroutine while the checkpoint is prepared and
// sent; every later write of this process waits for that one and fails
// if it failed (stateFile.UpdateAside), so the checkpoint's vault entry
// is never stored before the organisation entries it claims. The caller
// waits for it (settle), which takes the session back to the state
// before them if it failed.
func (s *Session) adoptAppended(ctx context.Context, probe *certificate.Organisation, certs [][]byte, aside bool) error {
	if err := showIdentities(probe, nil, s.org.Head.Position); err != nil {
		return fmt.Errorf("%w: %w", ErrBadLog, err)
	}
	verified := make([]verifiedEntry, len(certs))
	for i, c := range certs {
		verified[i] = verifiedEntry{position: s.org.Head.Position + 1 + uint64(i), data: c}
	}
	if aside {
		wait, before := s.state.saveWithSnapshotAside(verified, probe.Head, probe), s.org
		s.settling = func() error {
			if err := wait(); err != nil {
				s.org = before
				return err
			}
			return nil
		}
	} else if err := s.state.saveWithSnapshot(verified, nil, probe.Head, probe); err != nil {
		return err
	}
	s.org = probe
	return s.fetchIdentities(ctx)
}

// settle waits for entries stored aside (adoptAppended) and gives their
// error; nil when there are none.
func (s *Session) settle() error {
	wait := s.settling
	s.settling = nil
	if wait == nil {
		return nil
	}
	return wait()
}
