package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

func (s suite) testAppendLog(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	if head := mustHead(t, st, "org"); head.Position != 0 || len(head.Hash) != 0 {
		t.Fatalf("LogHead of an empty log = %d %x, want 0 and no hash", head.Position, head.Hash)
	}

	// Entry 1's PrevHash is the caller's genesis hash, whatever it is.
	log := chain(store.Head{}, "one", "two", "three")
	head, err := st.AppendLog(ctx, "org", log, "", at(0))
	if err != nil {
		t.Fatalf("AppendLog of entries 1-3 to an empty log: %v", err)
	}
	if want := headOf(log); head.Position != want.Position || !bytes.Equal(head.Hash, want.Hash) {
		t.Fatalf("AppendLog returned head %d %x, want %d %x", head.Position, head.Hash, want.Position, want.Hash)
	}
	s.wantLog(t, st, "org", "after appending 1-3", log)

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
		_, err := st.AppendLog(ctx, "org", entries, "", at(0))
		wantErr(t, "AppendLog with "+name, err, store.ErrConflict)
		s.wantLog(t, st, "org", "after AppendLog with "+name, log)
	}

	// The store keeps the caller's bytes, not a reference to them.
	more := chain(headOf(log), "four")
	if _, err := st.AppendLog(ctx, "org", more, "", at(0)); err != nil {
		t.Fatalf("AppendLog of entry 4: %v", err)
	}
	log = append(log, more...)
	more[0].Data[0] = 'X'
	got, err := st.ReadLog(ctx, "org", 4, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("ReadLog(4, 1) = %d entries, %v", len(got), err)
	}
	got[0].Data[0] = 'Y'
	log[3].Data = []byte("four")
	s.wantLog(t, st, "org", "after changing the appended and the read slices", log)
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
	log := mustAppend(t, st, "org", "admin")

	for _, id := range []string{"expired", "expires-now", "spent", "cancelled", "burned"} {
		_, err := st.AppendLog(ctx, "org", chain(headOf(log), "new user"), id, now)
		wantErr(t, "AppendLog spending the "+id+" invitation", err, store.ErrInvitationUnusable)
		s.wantLog(t, st, "org", "after AppendLog spending the "+id+" invitation", log)
		s.wantInvitation(t, st, "after AppendLog spending it", invs[id])
	}
	_, err := st.AppendLog(ctx, "org", chain(headOf(log), "new user"), "no-such-invitation", now)
	wantErr(t, "AppendLog spending an unknown invitation", err, store.ErrNotFound)
	s.wantLog(t, st, "org", "after AppendLog spending an unknown invitation", log)

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
	s.wantLog(t, st, "org", "after AppendLog spending a pending invitation", append(log, next...))

	_, err = st.AppendLog(ctx, "org", chain(headOf(next), "again"), "pending", now)
	wantErr(t, "AppendLog spending the same invitation twice", err, store.ErrInvitationUnusable)
}

func (s suite) testReadLog(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	// Data of every shape: binary with NULs, empty-ish, large.
	datas := []string{"\x00", "\x00\xff\x00binary\n", strings.Repeat("large ", 20000)}
	for i := range 7 {
		datas = append(datas, fmt.Sprintf("certificate %d", i+4))
	}
	log := mustAppend(t, st, "org", datas...)

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
		got, err := st.ReadLog(ctx, "org", c.from, c.limit)
		if err != nil {
			t.Fatalf("ReadLog(from %d, limit %d): %v", c.from, c.limit, err)
		}
		if d := s.diffEntries(got, c.want); d != "" {
			t.Fatalf("ReadLog(from %d, limit %d): %s", c.from, c.limit, d)
		}
	}
}

// testConcurrentAppend has writers race for the head, retrying on
// ErrConflict as the server does: the log must come out gap-free, chained
// and with every entry exactly once.
func (s suite) testConcurrentAppend(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	const writers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				data := fmt.Sprintf("writer %d entry %d", w, i)
				for {
					head, err := st.LogHead(ctx, "org")
					if err == nil {
						_, err = st.AppendLog(ctx, "org", chain(head, data), "", at(0))
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
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	log, err := st.ReadLog(ctx, "org", 1, writers*each+10)
	if err != nil {
		t.Fatalf("ReadLog: %v", err)
	}
	if len(log) != writers*each {
		t.Fatalf("%d writers appended %d entries each, the log has %d", writers, each, len(log))
	}
	seen := map[string]bool{}
	prev := genesis
	for i, e := range log {
		h := sha256.Sum256(append(append([]byte(nil), prev...), e.Data...))
		switch {
		case e.Position != uint64(i+1):
			t.Fatalf("entry %d has position %d: the log has a gap", i, e.Position)
		case !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, h[:]):
			t.Fatalf("entry %d does not chain onto entry %d", e.Position, e.Position-1)
		case seen[string(e.Data)]:
			t.Fatalf("entry %d, %q, is in the log twice", e.Position, e.Data)
		}
		seen[string(e.Data)] = true
		prev = e.Hash
	}
	if head := mustHead(t, st, "org"); head.Position != uint64(len(log)) || !bytes.Equal(head.Hash, prev) {
		t.Fatalf("LogHead = %d %x, want %d %x", head.Position, head.Hash, len(log), prev)
	}
}
