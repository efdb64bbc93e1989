package storetest

import (
	"testing"

	"github.com/coffre/coffre/server/store"
)

// testVaultLog checks that a vault's log follows the organisation log's
// rules, and that a vault the store has never seen has an empty log.
func (s suite) testVaultLog(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	s.checkAppend(t, st, vaultLog("org", "vault"))

	// Entry 1 of each vault chains onto whatever genesis its caller chose.
	for _, prev := range [][]byte{nil, []byte("another genesis")} {
		l := vaultLog("org", "genesis "+show(prev))
		first := chain(store.Head{}, "first")
		first[0].PrevHash = prev
		if _, err := l.append(t.Context(), st, first); err != nil {
			t.Fatalf("%s of entry 1 with PrevHash %s: %v", l.call("AppendLog"), show(prev), err)
		}
		s.wantLog(t, st, l, "after appending entry 1 with PrevHash "+show(prev), first)
	}
}

func (s suite) testReadVaultLog(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	s.checkRead(t, st, vaultLog("org", "vault"))
}

// testConcurrentVaultAppend races writers on two vaults of one
// organisation, the same vault id in another, and the organisation log,
// all at once.
func (s suite) testConcurrentVaultAppend(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "a")
	mustOrg(t, st, "b")
	s.checkConcurrentAppend(t, st, 4, vaultLog("a", "v1"), vaultLog("a", "v2"), vaultLog("b", "v1"), orgLog("a"))
}

// testVaultIsolation checks that each vault log, and the organisation log,
// is its own: its own entries and its own head, whatever the ids share.
func (s suite) testVaultIsolation(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "a")
	mustOrg(t, st, "b")
	// Ids are opaque: one a prefix of another, one with a slash.
	a1, a10, aSlash, b1 := vaultLog("a", "vault1"), vaultLog("a", "vault10"), vaultLog("a", "vault1/x"), vaultLog("b", "vault1")
	logA1 := mustAppend(t, st, a1, "a1 one", "a1 two", "a1 three")
	for _, l := range []logRef{a10, aSlash, b1, orgLog("a"), orgLog("b")} {
		s.wantLog(t, st, l, "after appending to "+a1.String(), nil)
	}
	logB1 := mustAppend(t, st, b1, "b1 one", "b1 two", "b1 three")
	logA10 := mustAppend(t, st, a10, "a10 one", "a10 two", "a10 three")
	logOrgA := mustAppend(t, st, orgLog("a"), "org a one", "org a two", "org a three")
	s.wantLog(t, st, a1, "after appending to the other logs", logA1)

	// Every log is at position 3: following another log's head has the
	// right position but the wrong PrevHash, a conflict that writes
	// nothing.
	for _, c := range []struct {
		l     logRef
		after []store.LogEntry
		want  []store.LogEntry
	}{
		{a1, logB1, logA1},
		{b1, logA1, logB1},
		{a10, logA1, logA10},
		{orgLog("a"), logA1, logOrgA},
	} {
		_, err := c.l.append(t.Context(), st, chain(headOf(c.after), "misplaced"))
		wantErr(t, c.l.call("AppendLog")+" of an entry following the head of another log", err, store.ErrConflict)
		s.wantLog(t, st, c.l, "after a misplaced append", c.want)
	}
	s.wantLog(t, st, aSlash, "after appending to every other log", nil)
}
