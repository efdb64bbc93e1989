package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

// logRef names one log of a store: the organisation's, or one vault's when
// vault is set. The log tests run on both kinds through it.
type logRef struct{ org, vault string }

func orgLog(org string) logRef          { return logRef{org: org} }
func vaultLog(org, vault string) logRef { return logRef{org, vault} }

func (l logRef) String() string {
	if l.vault == "" {
		return "the log of " + l.org
	}
	return fmt.Sprintf("the log of vault %q of %s", l.vault, l.org)
}

// call names the method that reaches l, for messages: "AppendLog(org)",
// or "AppendVaultLog(org, vault)" for a vault's log.
func (l logRef) call(method string) string {
	if l.vault == "" {
		return fmt.Sprintf("%s(%s)", method, l.org)
	}
	vaultMethod := map[string]string{"AppendLog": "AppendVaultLog", "ReadLog": "ReadVaultLog", "LogHead": "VaultLogHead"}[method]
	return fmt.Sprintf("%s(%s, %q)", vaultMethod, l.org, l.vault)
}

func (l logRef) append(ctx context.Context, st store.Store, entries []store.LogEntry) (store.Head, error) {
	if l.vault == "" {
		return st.AppendLog(ctx, l.org, entries, "", at(0))
	}
	return st.AppendVaultLog(ctx, l.org, l.vault, entries, at(0))
}

func (l logRef) read(ctx context.Context, st store.Store, from uint64, limit int) ([]store.LogEntry, error) {
	if l.vault == "" {
		return st.ReadLog(ctx, l.org, from, limit)
	}
	return st.ReadVaultLog(ctx, l.org, l.vault, from, limit)
}

func (l logRef) head(ctx context.Context, st store.Store) (store.Head, error) {
	if l.vault == "" {
		return st.LogHead(ctx, l.org)
	}
	return st.VaultLogHead(ctx, l.org, l.vault)
}

func (s suite) testAppendLog(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	s.checkAppend(t, st, orgLog("org"))
}

// checkAppend checks the position and chain rules of AppendLog on l, which
// must be empty.
func (s suite) checkAppend(t *testing.T, st store.Store, l logRef) {
	ctx := t.Context()
	if head := mustHead(t, st, l); head.Position != 0 || len(head.Hash) != 0 {
		t.Fatalf("%s of an empty log = %d %x, want 0 and no hash", l.call("LogHead"), head.Position, head.Hash)
	}
	if got, err := l.read(ctx, st, 1, 10); err != nil || len(got) != 0 {
		t.Fatalf("%s of an empty log = %d entries, %v; want none", l.call("ReadLog"), len(got), err)
	}
	for _, pos := range []uint64{0, 2} {
		entries := chain(store.Head{}, "one")
		entries[0].Position = pos
		_, err := l.append(ctx, st, entries)
		wantErr(t, fmt.Sprintf("%s of an entry at position %d to an empty log", l.call("AppendLog"), pos), err, store.ErrConflict)
		s.wantLog(t, st, l, fmt.Sprintf("after appending at position %d to an empty log", pos), nil)
	}

	// Entry 1's PrevHash is the caller's genesis hash, whatever it is.
	log := chain(store.Head{}, "one", "two", "three")
	head, err := l.append(ctx, st, log)
	if err != nil {
		t.Fatalf("%s of entries 1-3 to an empty log: %v", l.call("AppendLog"), err)
	}
	if want := headOf(log); head.Position != want.Position || !bytes.Equal(head.Hash, want.Hash) {
		t.Fatalf("%s returned head %d %x, want %d %x", l.call("AppendLog"), head.Position, head.Hash, want.Position, want.Hash)
	}
	s.wantLog(t, st, l, "after appending 1-3", log)

	// Each case is one invalid batch after entry 3: none may be written.
	cases := map[string]func(e []store.LogEntry){
		"a gap (position 5)":              func(e []store.LogEntry) { e[0].Position = 5 },
		"the head's position again (3)":   func(e []store.LogEntry) { e[0].Position = 3 },
		"a stale PrevHash":                func(e []store.LogEntry) { e[0].PrevHash = log[1].Hash },
		"no PrevHash":                     func(e []store.LogEntry) { e[0].PrevHash = nil },
		"a gap inside the batch":          func(e []store.LogEntry) { e[1].Position = 6 },
		"a broken chain inside the batch": func(e []store.LogEntry) { e[1].PrevHash = e[0].PrevHash },
		"a repeated position in the batch": func(e []store.LogEntry) {
			e[1].Position = e[0].Position
		},
	}
	for name, breakIt := range cases {
		entries := chain(headOf(log), "four", "five")
		breakIt(entries)
		_, err := l.append(ctx, st, entries)
		wantErr(t, l.call("AppendLog")+" with "+name, err, store.ErrConflict)
		s.wantLog(t, st, l, "after "+l.call("AppendLog")+" with "+name, log)
	}

	// The store keeps the caller's bytes, not a reference to them.
	more := chain(headOf(log), "four")
	if _, err := l.append(ctx, st, more); err != nil {
		t.Fatalf("%s of entry 4: %v", l.call("AppendLog"), err)
	}
	log = append(log, more...)
	more[0].Data[0] = 'X'
	got, err := l.read(ctx, st, 4, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("%s from 4, limit 1 = %d entries, %v", l.call("ReadLog"), len(got), err)
	}
	got[0].Data[0] = 'Y'
	log[3].Data = []byte("four")
	s.wantLog(t, st, l, "after changing the appended and the read slices", log)
}

// testAppendLogSpend checks that spending an invitation and appending
// happen together or not at all.
func (s suite) testAppendLogSpend(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	now := at(100)
	invs := map[string]store.Invitation{}
	for id, state := range map[string]store.InvitationState{
		"pending": store.InvitationPending, "expired": store.InvitationPending, "expires-now": store.InvitationPending,
		"spent": store.InvitationSpent, "cancelled": store.InvitationCancelled, "burned": store.InvitationBurned,
	} {
		inv := newInvitation("org", id, 1)
		inv.State, inv.ExpiresAt = state, now.Add(time.Hour)
		switch id {
		case "expired":
			inv.ExpiresAt = now.Add(-time.Second)
		case "expires-now":
			inv.ExpiresAt = now
		}
		if err := st.CreateInvitation(ctx, inv); err != nil {
			t.Fatalf("CreateInvitation(%s): %v", id, err)
		}
		invs[id] = inv
	}
	log := mustAppend(t, st, orgLog("org"), "admin")

	for _, id := range []string{"expired", "expires-now", "spent", "cancelled", "burned"} {
		_, err := st.AppendLog(ctx, "org", chain(headOf(log), "new user"), id, now)
		wantErr(t, "AppendLog spending the "+id+" invitation", err, store.ErrInvitationUnusable)
		s.wantLog(t, st, orgLog("org"), "after AppendLog spending the "+id+" invitation", log)
		s.wantInvitation(t, st, "after AppendLog spending it", invs[id])
	}
	_, err := st.AppendLog(ctx, "org", chain(headOf(log), "new user"), "no-such-invitation", now)
	wantErr(t, "AppendLog spending an unknown invitation", err, store.ErrNotFound)
	s.wantLog(t, st, orgLog("org"), "after AppendLog spending an unknown invitation", log)

	stale := chain(store.Head{}, "stale")
	_, err = st.AppendLog(ctx, "org", stale, "pending", now)
	wantErr(t, "AppendLog with a stale head spending a pending invitation", err, store.ErrConflict)
	s.wantInvitation(t, st, "after a conflicting AppendLog spending it", invs["pending"])

	next := chain(headOf(log), "new user", "new device")
	if _, err := st.AppendLog(ctx, "org", next, "pending", now); err != nil {
		t.Fatalf("AppendLog spending a pending invitation: %v", err)
	}
	spent := invs["pending"]
	spent.State = store.InvitationSpent
	s.wantInvitation(t, st, "after AppendLog spending it", spent)
	s.wantLog(t, st, orgLog("org"), "after AppendLog spending a pending invitation", append(log, next...))

	_, err = st.AppendLog(ctx, "org", chain(headOf(next), "again"), "pending", now)
	wantErr(t, "AppendLog spending the same invitation twice", err, store.ErrInvitationUnusable)
}

func (s suite) testReadLog(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	s.checkRead(t, st, orgLog("org"))
}

// checkRead fills the empty log l and reads it back in slices.
func (s suite) checkRead(t *testing.T, st store.Store, l logRef) {
	// Data of every shape: binary with NULs, empty-ish, large.
	datas := []string{"\x00", "\x00\xff\x00binary\n", strings.Repeat("large ", 20000)}
	for i := range 7 {
		datas = append(datas, fmt.Sprintf("certificate %d", i+4))
	}
	log := mustAppend(t, st, l, datas...)

	for _, c := range []struct {
		from  uint64
		limit int
		want  []store.LogEntry
	}{
		{1, 100, log},
		{1, 10, log},
		{4, 3, log[3:6]},
		{10, 5, log[9:]},
		{11, 5, nil},
		{1000, 5, nil},
	} {
		got, err := l.read(t.Context(), st, c.from, c.limit)
		if err != nil {
			t.Fatalf("%s from %d, limit %d: %v", l.call("ReadLog"), c.from, c.limit, err)
		}
		if d := s.diffEntries(got, c.want); d != "" {
			t.Fatalf("%s from %d, limit %d: %s", l.call("ReadLog"), c.from, c.limit, d)
		}
	}
}

func (s suite) testConcurrentAppend(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	s.checkConcurrentAppend(t, st, 8, orgLog("org"))
}

// checkConcurrentAppend has writers per log race for the head of each of
// logs, all at once, retrying on ErrConflict as the server does: every log
// must come out gap-free, chained and with each of its entries exactly
// once.
func (s suite) checkConcurrentAppend(t *testing.T, st store.Store, writers int, logs ...logRef) {
	ctx := t.Context()
	const each = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*len(logs))
	for _, l := range logs {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					data := fmt.Sprintf("%s: writer %d entry %d", l, w, i)
					for {
						head, err := l.head(ctx, st)
						if err == nil {
							_, err = l.append(ctx, st, chain(head, data))
						}
						if errors.Is(err, store.ErrConflict) {
							continue
						}
						if err != nil {
							errs <- fmt.Errorf("writer %d appending %q: %w", w, data, err)
							return
						}
						break
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, l := range logs {
		log, err := l.read(ctx, st, 1, writers*each+10)
		if err != nil {
			t.Fatalf("%s: %v", l.call("ReadLog"), err)
		}
		if len(log) != writers*each {
			t.Fatalf("%d writers appended %d entries each to %s, it has %d", writers, each, l, len(log))
		}
		seen := map[string]bool{}
		prev := genesis
		for i, e := range log {
			h := sha256.Sum256(append(append([]byte(nil), prev...), e.Data...))
			switch {
			case e.Position != uint64(i+1):
				t.Fatalf("%s: entry %d has position %d: the log has a gap", l, i, e.Position)
			case !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, h[:]):
				t.Fatalf("%s: entry %d does not chain onto entry %d", l, e.Position, e.Position-1)
			case seen[string(e.Data)]:
				t.Fatalf("%s: entry %d, %q, is in the log twice", l, e.Position, e.Data)
			case !strings.HasPrefix(string(e.Data), l.String()+":"):
				t.Fatalf("%s: entry %d, %q, was appended to another log", l, e.Position, e.Data)
			}
			seen[string(e.Data)] = true
			prev = e.Hash
		}
		if head := mustHead(t, st, l); head.Position != uint64(len(log)) || !bytes.Equal(head.Hash, prev) {
			t.Fatalf("%s = %d %x, want %d %x", l.call("LogHead"), head.Position, head.Hash, len(log), prev)
		}
	}
}
