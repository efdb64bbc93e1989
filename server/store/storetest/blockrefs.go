package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffre/coffre/server/store"
)

// Block references and condemnations (store.Store's AppendVaultLogBlocks,
// BlocksDeclared and CondemnBlocks; SPEC.md §7.5).

// appendRefs appends one entry to l declaring refs.
func appendRefs(t *testing.T, st store.Store, l logRef, data string, refs store.BlockRefs) error {
	t.Helper()
	head := mustHead(t, st, l)
	_, err := st.AppendVaultLogBlocks(t.Context(), l.org, l.vault, chain(head, data), refs, at(int(head.Position)+1))
	return err
}

func declared(ids ...string) store.BlockRefs { return store.BlockRefs{Declared: true, IDs: ids} }

// wantCondemn calls CondemnBlocks and checks what it returns, in any
// order.
func wantCondemn(t *testing.T, st store.Store, l logRef, ids []string, dryRun bool, wantFresh, wantEarlier []string) {
	t.Helper()
	fresh, earlier, err := st.CondemnBlocks(t.Context(), l.org, l.vault, ids, dryRun)
	if err != nil {
		t.Fatalf("CondemnBlocks(%s, %v, dry run %v): %v", l, ids, dryRun, err)
	}
	if !sameSet(fresh, wantFresh) || !sameSet(earlier, wantEarlier) {
		t.Fatalf("CondemnBlocks(%s, %v, dry run %v) = fresh %v, earlier %v; want fresh %v, earlier %v", l, ids, dryRun, fresh, earlier, wantFresh, wantEarlier)
	}
}

func wantDeclared(t *testing.T, st store.Store, l logRef, want bool) {
	t.Helper()
	got, err := st.BlocksDeclared(t.Context(), l.org, l.vault)
	if err != nil || got != want {
		t.Fatalf("BlocksDeclared(%s) = %v, %v; want %v", l, got, err, want)
	}
}

// testBlockRefs: a declared block is never condemned, an undeclared one
// is, once and for good; an append declaring a condemned block writes
// nothing; a dry run records nothing; a vault with an entry that declared
// nothing condemns nothing.
func (s suite) testBlockRefs(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	v := vaultLog("org", "vault")

	// A vault never appended to: every block is unreferenced.
	wantDeclared(t, st, v, true)
	wantCondemn(t, st, v, []string{"u1"}, true, []string{"u1"}, nil)

	if err := appendRefs(t, st, v, "entry 1", declared("r1", "r2")); err != nil {
		t.Fatalf("appending entry 1 declaring r1, r2: %v", err)
	}
	if err := appendRefs(t, st, v, "entry 2", declared()); err != nil {
		t.Fatalf("appending entry 2 declaring no block: %v", err)
	}
	wantDeclared(t, st, v, true)
	// The dry run before recorded nothing: u1 is still unreferenced,
	// and so is everything not declared.
	wantCondemn(t, st, v, []string{"r1", "u1", "u2", "r2"}, true, []string{"u1", "u2"}, nil)
	wantCondemn(t, st, v, []string{"r1", "u1", "u2", "r2"}, false, []string{"u1", "u2"}, nil)
	wantCondemn(t, st, v, []string{"r1", "u1", "u2", "u3"}, false, []string{"u3"}, []string{"u1", "u2"})
	wantCondemn(t, st, v, []string{"u1", "u4"}, true, []string{"u4"}, []string{"u1"})

	// A condemned block can't be declared again; the append, and the
	// other blocks it declared, are not recorded.
	head := mustHead(t, st, v)
	err := appendRefs(t, st, v, "entry 3", declared("r3", "u2"))
	wantErr(t, "an append declaring condemned block u2", err, store.ErrBlockCollected)
	if got := mustHead(t, st, v); got.Position != head.Position {
		t.Fatalf("a refused append moved the head from %d to %d", head.Position, got.Position)
	}
	wantCondemn(t, st, v, []string{"r3"}, true, []string{"r3"}, nil)
	// A block declared again stays referenced.
	if err := appendRefs(t, st, v, "entry 3", declared("r3", "r1")); err != nil {
		t.Fatalf("appending entry 3 declaring r3 and r1 again: %v", err)
	}
	wantCondemn(t, st, v, []string{"r1", "r2", "r3"}, false, nil, nil)

	// An entry that declared nothing (an older client): its blocks are
	// unknown, and the vault is never collected again.
	if err := appendRefs(t, st, v, "entry 4", store.BlockRefs{}); err != nil {
		t.Fatalf("appending entry 4 without a declaration: %v", err)
	}
	wantDeclared(t, st, v, false)
	wantCondemn(t, st, v, []string{"u5"}, false, nil, nil)
	if err := appendRefs(t, st, v, "entry 5", declared("r5")); err != nil {
		t.Fatalf("appending entry 5: %v", err)
	}
	wantDeclared(t, st, v, false)
	wantCondemn(t, st, v, []string{"u5", "u1"}, false, nil, nil)

	// AppendVaultLog declares nothing either.
	w := vaultLog("org", "other")
	if err := appendRefs(t, st, w, "entry 1", declared()); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, w, "entry 2")
	wantDeclared(t, st, w, false)
}

// testBlockRefsIsolation: what one vault declares or condemns is its own.
func (s suite) testBlockRefsIsolation(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "a")
	mustOrg(t, st, "b")
	a1, a2, b1 := vaultLog("a", "vault1"), vaultLog("a", "vault2"), vaultLog("b", "vault1")
	if err := appendRefs(t, st, a1, "entry", declared("x", "y")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []logRef{a2, b1} {
		wantCondemn(t, st, l, []string{"x", "y"}, false, []string{"x", "y"}, nil)
	}
	wantCondemn(t, st, a1, []string{"x", "y"}, false, nil, nil)
	if err := appendRefs(t, st, a1, "entry 2", declared("x")); err != nil {
		t.Fatalf("declaring again in vault1 a block condemned in vault2: %v", err)
	}
	// Undeclared in one vault leaves the others collectable.
	if err := appendRefs(t, st, a2, "entry", store.BlockRefs{}); err != nil {
		t.Fatal(err)
	}
	wantDeclared(t, st, a2, false)
	wantDeclared(t, st, a1, true)
	wantDeclared(t, st, b1, true)

	_, err := st.BlocksDeclared(t.Context(), "nobody", "vault1")
	wantErr(t, "BlocksDeclared of an unknown organisation", err, store.ErrNotFound)
	_, _, err = st.CondemnBlocks(t.Context(), "nobody", "vault1", []string{"x"}, false)
	wantErr(t, "CondemnBlocks of an unknown organisation", err, store.ErrNotFound)
}

// testConcurrentCondemn races appends declaring blocks against
// condemnations of the same blocks: each block ends either referenced by
// a committed entry or condemned, never both.
func (s suite) testConcurrentCondemn(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	v := vaultLog("org", "vault")
	const rounds = 20
	var (
		mu        sync.Mutex
		committed = map[string]bool{}
		condemned = map[string]bool{}
		wg        sync.WaitGroup
		errs      = make(chan error, 2*rounds)
	)
	ids := func(r int) []string { return []string{fmt.Sprintf("r%da", r), fmt.Sprintf("r%db", r)} }
	wg.Add(2)
	go func() {
		defer wg.Done()
		for r := range rounds {
			for {
				head, err := st.VaultLogHead(t.Context(), v.org, v.vault)
				if err != nil {
					errs <- err
					return
				}
				_, err = st.AppendVaultLogBlocks(t.Context(), v.org, v.vault, chain(head, fmt.Sprint("entry ", r)), declared(ids(r)...), at(r))
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err == nil {
					mu.Lock()
					for _, id := range ids(r) {
						committed[id] = true
					}
					mu.Unlock()
				} else if !errors.Is(err, store.ErrBlockCollected) {
					errs <- err
				}
				break
			}
		}
	}()
	go func() {
		defer wg.Done()
		for r := range rounds {
			fresh, earlier, err := st.CondemnBlocks(t.Context(), v.org, v.vault, ids(r)[1:], false)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			for _, id := range append(fresh, earlier...) {
				condemned[id] = true
			}
			mu.Unlock()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := range condemned {
		if committed[id] {
			t.Fatalf("block %s is both declared by a committed entry and condemned", id)
		}
	}
	// Whatever the race, the store agrees now.
	for r := range rounds {
		id := ids(r)[1]
		fresh, earlier, err := st.CondemnBlocks(t.Context(), v.org, v.vault, []string{id}, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(fresh)+len(earlier) > 0; got == committed[id] {
			t.Fatalf("block %s: committed %v, but a dry run would condemn it: %v", id, committed[id], got)
		}
	}
}
