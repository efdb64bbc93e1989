package client

import (
	"context"
	"encoding/binary"
	"sync"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// A vault log read sent ahead: after a certificate that gives a vault a
// new anchor is appended (a rotation, say), the checkpoint that follows
// reads the vault log with the server's signed heads. That read needs
// nothing this device has still to do, so it goes out while the appended
// entries are stored locally, where it came after them (issue 15: the
// unshare's serial path). Its answer is only a VaultRead's answer that
// arrived early: the Read that takes it checks it exactly as one it
// sends itself (remote.Read), and a Read asking for anything else sends
// its own.
type readAhead struct {
	vaultID       string
	from          uint64
	pages, signed bool

	done chan struct{}
	resp *coffrev1.VaultReadResponse
	peer peer.Peer
	err  error
}

// readAheads holds the session's one read sent ahead, if any.
type readAheads struct {
	mu   sync.Mutex
	next *readAhead
}

// readVaultAhead sends now the read with the signed heads that the sync
// before a vault's checkpoint will send (workspace.Vault.SyncToCheckpoint):
// from the vault head this device stored, with the folder pages if it
// stored none. A head it can't read leaves the sync to send its own.
func (s *Session) readVaultAhead(ctx context.Context, vaultID string) {
	mine, err := s.state.vaultHeadPosition(vaultID)
	if err != nil {
		return
	}
	a := &readAhead{vaultID: vaultID, from: max(mine, 1), pages: mine == 0, signed: true, done: make(chan struct{})}
	s.ahead.mu.Lock()
	s.ahead.next = a
	s.ahead.mu.Unlock()
	go func() {
		defer close(a.done)
		a.resp, a.err = s.conn.api.VaultRead(ctx, vaultReadRequest(vaultID, a.from, a.pages, a.signed), grpc.Peer(&a.peer))
	}()
}

// takeReadAhead returns the read sent ahead if it is this one, and
// forgets it either way: an answer is used once, by the next read of
// the vault log, or not at all.
func (s *Session) takeReadAhead(vaultID string, from uint64, pages, signed bool) *readAhead {
	s.ahead.mu.Lock()
	a := s.ahead.next
	s.ahead.next = nil
	s.ahead.mu.Unlock()
	if a == nil || a.vaultID != vaultID || a.from != from || a.pages != pages || a.signed != signed {
		return nil
	}
	return a
}

// dropReadAhead forgets a read sent ahead that nothing took.
func (s *Session) dropReadAhead() {
	s.ahead.mu.Lock()
	s.ahead.next = nil
	s.ahead.mu.Unlock()
}

// answer waits for the read's answer.
func (a *readAhead) answer(ctx context.Context) (*coffrev1.VaultReadResponse, peer.Peer, error) {
	select {
	case <-a.done:
		return a.resp, a.peer, a.err
	case <-ctx.Done():
		return nil, peer.Peer{}, ctx.Err()
	}
}

// vaultHeadPosition is the position of the vault head this device
// stored (0: none). It only chooses where a read sent ahead starts; the
// stored log is checked when the vault is opened (loadVault).
func (s *localState) vaultHeadPosition(vaultID string) (uint64, error) {
	var pos uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		head, err := s.vaultHeadIn(tx, vaultID)
		if head != nil {
			pos = binary.BigEndian.Uint64(head)
		}
		return err
	})
	return pos, err
}
