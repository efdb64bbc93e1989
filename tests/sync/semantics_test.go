package synctest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Deterministic checks of the merge rules the issue states, in-process:
// conflicts keep both, deletes never remove an edit made on the other
// side, folder operations merge.

func twoDevices(t *testing.T) (*world, *engineDev, *engineDev) {
	t.Helper()
	w := newHostileWorld(t, devSpec{"alice", "alice", "alice-laptop"}, devSpec{"bob", "bob", "bob-laptop"})
	a, b := w.engine(t, "alice"), w.engine(t, "bob")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("alice's engine:\n%s\nbob's engine:\n%s", a.logs.String(), b.logs.String())
		}
	})
	return w, a, b
}

// threeDevices is alice, bob and carol, each a user of their own.
func threeDevices(t *testing.T) (*world, *engineDev, *engineDev, *engineDev) {
	t.Helper()
	w := newHostileWorld(t,
		devSpec{"alice", "alice", "alice-laptop"}, devSpec{"bob", "bob", "bob-laptop"}, devSpec{"carol", "carol", "carol-laptop"})
	a, b, c := w.engine(t, "alice"), w.engine(t, "bob"), w.engine(t, "carol")
	t.Cleanup(func() {
		if t.Failed() {
			for _, d := range []*engineDev{a, b, c} {
				t.Logf("%s's engine:\n%s", d.name, d.logs.String())
			}
		}
	})
	return w, a, b, c
}

// converge cycles the devices in turn until a round does nothing; it
// returns false (and the last errors) if 8 rounds don't get there.
func converge(devs ...*engineDev) (bool, []string) {
	var errs []string
	for range 8 {
		quiet := true
		errs = nil
		for _, d := range devs {
			res, err := d.cycle()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", d.name, err))
			}
			if err != nil || res.Busy() || res.Pending > 0 {
				quiet = false
			}
		}
		if quiet {
			return true, nil
		}
	}
	return false, errs
}

func mustConverge(t *testing.T, devs ...*engineDev) {
	t.Helper()
	if ok, errs := converge(devs...); !ok {
		t.Fatalf("no quiet round in 8: %v", errs)
	}
	sameTrees(t, devs...)
}

func sameTrees(t *testing.T, devs ...*engineDev) map[string]entry {
	t.Helper()
	ref := readTree(t, devs[0].dir)
	for _, d := range devs[1:] {
		if diff := diffTrees(ref, readTree(t, d.dir), devs[0].name, d.name); diff != "" {
			t.Errorf("%s's and %s's folders differ:\n%s", devs[0].name, d.name, diff)
		}
	}
	return ref
}

func write(t testing.TB, d *engineDev, rel, content string) {
	t.Helper()
	p := filepath.Join(d.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, d *engineDev, rel string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// TestConflictKeepsBoth: both devices change one file; the one that syncs
// second keeps the vault's version under the name and its own as
// "name (conflict DEVICE TIME).ext"; both end with both, never a silent
// overwrite.
func TestConflictKeepsBoth(t *testing.T) {
	t.Parallel()
	_, a, b := twoDevices(t)
	write(t, a, "report.txt", "v1")
	mustConverge(t, a, b)
	write(t, a, "report.txt", "alice's edit")
	write(t, b, "report.txt", "bob's edit")
	a.mustCycle(t)
	res := b.mustCycle(t)
	if res.Conflicts != 1 {
		t.Errorf("bob's cycle: %d conflicts, want 1", res.Conflicts)
	}
	mustConverge(t, a, b)
	tree := readTree(t, b.dir)
	if got, _ := read(t, b, "report.txt"); got != "alice's edit" {
		t.Errorf("report.txt = %q, want the vault's version (alice's edit)", got)
	}
	var copies []string
	for p := range tree {
		if strings.HasPrefix(p, "report (conflict ") {
			copies = append(copies, p)
		}
	}
	if len(copies) != 1 {
		t.Fatalf("conflict copies %v, want one", copies)
	}
	m := conflictName.FindStringSubmatch(copies[0])
	if m == nil || m[1] != "report" || m[2] != "bob-laptop" || m[5] != ".txt" {
		t.Errorf("conflict copy named %q, want \"report (conflict bob-laptop YYYY-MM-DD HHMMSS).txt\"", copies[0])
	} else if at, err := time.ParseInLocation("2006-01-02 150405", m[3], time.Local); err != nil || time.Since(at) > time.Minute || time.Since(at) < -time.Second {
		t.Errorf("conflict copy %q: time %q is not now", copies[0], m[3])
	}
	if got, _ := read(t, b, copies[0]); got != "bob's edit" {
		t.Errorf("%s = %q, want bob's edit", copies[0], got)
	}
	if len(tree) != 2 {
		t.Errorf("tree %v, want the file and its conflict copy", sortedKeys(tree))
	}
}

// TestRemoteDeleteKeepsLocalEdit: bob deletes a file alice edited
// meanwhile: the edit survives (and goes back to bob); and the other way
// round, alice's deletion does not remove bob's edit.
func TestRemoteDeleteKeepsLocalEdit(t *testing.T) {
	t.Parallel()
	_, a, b := twoDevices(t)
	write(t, a, "a.txt", "v1")
	write(t, a, "b.txt", "v1")
	mustConverge(t, a, b)

	// Remote delete, local edit.
	os.Remove(filepath.Join(b.dir, "a.txt"))
	b.mustCycle(t)
	write(t, a, "a.txt", "alice's edit after bob's delete")
	mustConverge(t, a, b)
	if got, ok := read(t, b, "a.txt"); got != "alice's edit after bob's delete" {
		t.Errorf("a.txt on bob: %q (exists %v), want alice's edit", got, ok)
	}

	// Local delete, remote edit.
	write(t, b, "b.txt", "bob's edit")
	b.mustCycle(t)
	os.Remove(filepath.Join(a.dir, "b.txt"))
	mustConverge(t, a, b)
	if got, ok := read(t, a, "b.txt"); got != "bob's edit" {
		t.Errorf("b.txt on alice: %q (exists %v), want bob's edit", got, ok)
	}
}

// TestFolderOperationsMerge: a nested folder renamed and moved on one
// device, a file added elsewhere and a folder deleted on the other: both
// end with the same tree.
func TestFolderOperationsMerge(t *testing.T) {
	t.Parallel()
	_, a, b := twoDevices(t)
	write(t, a, "projects/2026/plan.txt", "plan")
	write(t, a, "projects/2026/notes/n1.txt", "n1")
	write(t, a, "archive/old.txt", "old")
	os.MkdirAll(filepath.Join(a.dir, "empty/deeper"), 0o755)
	mustConverge(t, a, b)

	os.MkdirAll(filepath.Join(a.dir, "done"), 0o755)
	if err := os.Rename(filepath.Join(a.dir, "projects/2026"), filepath.Join(a.dir, "done/year-2026")); err != nil {
		t.Fatal(err)
	}
	write(t, b, "projects/readme.txt", "readme")
	os.RemoveAll(filepath.Join(b.dir, "archive"))
	mustConverge(t, a, b)
	tree := readTree(t, a.dir)
	for _, p := range []string{"done/year-2026/plan.txt", "done/year-2026/notes/n1.txt", "projects/readme.txt", "empty/deeper"} {
		if _, ok := tree[p]; !ok {
			t.Errorf("%s missing after the merge: %v", p, sortedKeys(tree))
		}
	}
	for _, p := range []string{"projects/2026", "archive"} {
		if _, ok := tree[p]; ok {
			t.Errorf("%s still there after the merge: %v", p, sortedKeys(tree))
		}
	}
}

// TestConcurrentMovesOfOneFolder: alice moves a folder while bob, who
// has not synced yet, moves a folder inside it elsewhere. A sync carries a
// move as a deletion and a creation, so without help each file would end
// up at both new places. The first move to reach the vault wins: bob's
// files go where alice put them, each once; the folders bob made stay
// (empty), and a file bob edited during his move is kept at his place
// too, since that edit is new; so is an empty file he renamed (all empty
// files have the same bytes: an empty file is followed only under its
// own name).
func TestConcurrentMovesOfOneFolder(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "D/sub/f.txt", "f")
	write(t, a, "D/sub/g (conflict bob 2026-12-07 101500).txt", "bob's old version of g")
	write(t, a, "D/sub/edited.txt", "before bob's edit")
	write(t, a, "D/sub/empty.txt", "")
	write(t, a, "D/sub/empty2.txt", "")
	write(t, a, "D/top.txt", "top")
	mustConverge(t, a, b)

	if err := os.Rename(filepath.Join(a.dir, "D"), filepath.Join(a.dir, "E")); err != nil {
		t.Fatal(err)
	}
	a.mustCycle(t)
	if err := os.MkdirAll(filepath.Join(b.dir, "X/Y"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(b.dir, "D/sub"), filepath.Join(b.dir, "X/Y/Z")); err != nil {
		t.Fatal(err)
	}
	// An empty file renamed during the move is not recognised (every
	// empty file has the base's bytes): both names are kept.
	if err := os.Rename(filepath.Join(b.dir, "X/Y/Z/empty2.txt"), filepath.Join(b.dir, "X/Y/Z/renamed.txt")); err != nil {
		t.Fatal(err)
	}
	write(t, b, "X/Y/Z/edited.txt", "edited by bob while moving it")
	old := time.Now().Add(-time.Minute) // settled: uploaded by the next cycle
	os.Chtimes(filepath.Join(b.dir, "X/Y/Z/edited.txt"), old, old)
	res := b.mustCycle(t)
	mustConverge(t, a, b)

	tree := readTree(t, a.dir)
	where := map[string][]string{}
	var folders []string
	for p, e := range tree {
		if e.folder {
			folders = append(folders, p)
		} else {
			where[e.hash] = append(where[e.hash], p)
		}
	}
	want := map[string][]string{
		"f":                             {"E/sub/f.txt"},
		"bob's old version of g":        {"E/sub/g (conflict bob 2026-12-07 101500).txt"},
		"before bob's edit":             {"E/sub/edited.txt"},
		"edited by bob while moving it": {"X/Y/Z/edited.txt"},
		"top":                           {"E/top.txt"},
		"":                              {"E/sub/empty.txt", "E/sub/empty2.txt", "X/Y/Z/renamed.txt"},
	}
	for content, paths := range want {
		got := where[hashBytes([]byte(content))]
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(paths, ",") {
			t.Errorf("%q is at %v, want %v (tree: %v)", content, got, paths, sortedKeys(tree))
		}
	}
	sort.Strings(folders)
	if got := strings.Join(folders, ","); got != "E,E/sub,X,X/Y,X/Y/Z" {
		t.Errorf("folders %s, want E,E/sub,X,X/Y,X/Y/Z", got)
	}
	if len(tree) != len(folders)+8 {
		t.Errorf("%d files, want 8: %v", len(tree)-len(folders), sortedKeys(tree))
	}
	if res.Moved != 3 {
		t.Errorf("bob's cycle moved %d files to alice's places, want 3: %+v", res.Moved, res.Changes)
	}
	remote, _ := w.remoteTree(t)
	if len(remote) != len(tree) {
		t.Errorf("the vault holds %v, the folders %v", sortedKeys(remote), sortedKeys(tree))
	}
}

// TestConcurrentMovesAfterAnEdit: carol edits doc.txt; alice, who had
// not synced it, moves it into A, so her sync brings carol's edit back to
// doc.txt (a local move never removes a remote edit) and sends the version
// she moved to A/doc.txt. Bob meanwhile moved it into B: the version he
// moved is already at A/doc.txt, so it goes there once, and carol's edit
// stays at doc.txt.
func TestConcurrentMovesAfterAnEdit(t *testing.T) {
	t.Parallel()
	_, a, b, c := threeDevices(t)
	write(t, a, "doc.txt", "v1")
	mustConverge(t, a, b, c)

	write(t, c, "doc.txt", "v2 by carol")
	c.mustCycle(t)
	for _, d := range []*engineDev{a, b} {
		folder := map[*engineDev]string{a: "A", b: "B"}[d]
		if err := os.Mkdir(filepath.Join(d.dir, folder), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(d.dir, "doc.txt"), filepath.Join(d.dir, folder, "doc.txt")); err != nil {
			t.Fatal(err)
		}
	}
	a.mustCycle(t)
	res := b.mustCycle(t)
	mustConverge(t, a, b, c)

	tree := readTree(t, a.dir)
	for content, want := range map[string]string{"v1": "A/doc.txt", "v2 by carol": "doc.txt"} {
		var got []string
		for p, e := range tree {
			if !e.folder && e.hash == hashBytes([]byte(content)) {
				got = append(got, p)
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%q is at %v, want only %s (tree: %v)", content, got, want, sortedKeys(tree))
		}
	}
	if len(tree) != 4 { // A, A/doc.txt, B (emptied), doc.txt
		t.Errorf("tree %v, want A, A/doc.txt, B, doc.txt", sortedKeys(tree))
	}
	if res.Moved != 1 {
		t.Errorf("bob's cycle moved %d files, want 1: %+v", res.Moved, res.Changes)
	}
}

// TestRemoteFolderDeleteKeepsLocalAdditions: bob deletes a folder while
// alice adds a file and a subfolder in it and edits a file in it. Alice's
// additions and edit must survive and reach bob (the local edit wins over
// the remote delete, as for a file).
func TestRemoteFolderDeleteKeepsLocalAdditions(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "D/f.txt", "v1")
	mustConverge(t, a, b)

	os.RemoveAll(filepath.Join(b.dir, "D"))
	if ok, errs := converge(b); !ok { // the folder's removal takes bob two cycles
		t.Fatalf("bob: %v", errs)
	}
	if tree, _ := w.remoteTree(t); len(tree) != 0 {
		t.Fatalf("the vault still holds %v after bob's deletion", sortedKeys(tree))
	}
	write(t, a, "D/new.txt", "added by alice")
	write(t, a, "D/f.txt", "edited by alice")
	os.MkdirAll(filepath.Join(a.dir, "D/sub"), 0o755)

	ok, errs := converge(a, b)
	if got, _ := read(t, a, "D/new.txt"); got != "added by alice" {
		t.Fatalf("alice's own addition is gone from her folder: %q", got)
	}
	if !ok {
		t.Fatalf("regression: a folder deleted remotely while files were added or edited in it locally is never merged: "+
			"every cycle fails with %v and the local files never reach the vault (workspace/syncer/engine.go, "+
			"Engine.delete: a non-empty folder is kept locally but its base stays in the journal, so decide() "+
			"keeps choosing actDeleteLocal for it, and the uploads/mkdirs beneath fail because the remote parent "+
			"is gone; fix: forget the folder's base (Journal.Set(p, nil)) when os.Remove fails as not empty, so "+
			"that the next cycle sees it as a new local folder and re-creates it in the vault)", errs)
	}
	sameTrees(t, a, b)
	for rel, want := range map[string]string{"D/new.txt": "added by alice", "D/f.txt": "edited by alice"} {
		if got, _ := read(t, b, rel); got != want {
			t.Errorf("%s on bob = %q, want %q", rel, got, want)
		}
	}
}

// TestRemoteDeleteOfResavedFile: alice deletes a file that bob saved again
// without changing it (an editor's save, a touch). Either outcome is
// defensible — deleted on bob (the content did not change) or uploaded
// again — but the two folders must agree in the end.
func TestRemoteDeleteOfResavedFile(t *testing.T) {
	t.Parallel()
	_, a, b := twoDevices(t)
	write(t, a, "f.txt", "same bytes")
	mustConverge(t, a, b)

	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(filepath.Join(b.dir, "f.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(a.dir, "f.txt"))
	a.mustCycle(t)
	ok, errs := converge(a, b)
	_, onA := read(t, a, "f.txt")
	_, onB := read(t, b, "f.txt")
	if ok && onA != onB {
		t.Fatalf("regression: a remote delete of a file saved again locally without a change never merges, silently: "+
			"the file stays on bob only, no error, every cycle quiet (on alice %v, on bob %v). "+
			"workspace/syncer/engine.go: decide() compares content and sees bob's file unchanged → actDeleteLocal, "+
			"but Engine.delete compares size+mtime with the journal's base, sees the new mtime, keeps the file "+
			"(\"edited meanwhile: kept, uploaded next cycle\") without touching the journal — and the next cycle "+
			"decides the same. Fix: in Engine.delete compare the file with the scanned state l (what decide judged), "+
			"not with the base b, or refresh the base's size/mtime when the content is unchanged", onA, onB)
	}
	if !ok {
		t.Fatalf("no quiet round: %v", errs)
	}
	sameTrees(t, a, b)
}

// TestCrashBeforeJournalWrite emulates kill -9 in the window between a
// transfer and the journal transaction that records it (the engine writes
// the journal after renaming a download into place, and after committing
// an upload): the journal keeps the old base. If, before the restart, the
// other device writes a newer version of the file, the restarted cycle
// sees "both changed" — but the local file is only an older version of
// the same file, not an edit: it must not become a conflict copy (the
// issue: kill -9 at any moment, then restart, converges with nothing
// duplicated).
func TestCrashBeforeJournalWrite(t *testing.T) {
	t.Parallel()
	for _, side := range []string{"download", "upload"} {
		t.Run(side, func(t *testing.T) {
			_, a, b := twoDevices(t)
			write(t, a, "doc.txt", "v1")
			mustConverge(t, a, b)
			// victim is the device killed; other writes the newer version.
			victim, other := b, a
			if side == "upload" {
				victim, other = a, b
			}
			old, err := victim.journal.All()
			if err != nil {
				t.Fatal(err)
			}
			if side == "download" {
				write(t, a, "doc.txt", "v2 by alice")
				a.mustCycle(t)
				b.mustCycle(t) // downloads v2 …
			} else {
				write(t, a, "doc.txt", "v2 by alice")
				a.mustCycle(t) // uploads v2 …
				b.mustCycle(t)
			}
			base := old["doc.txt"]
			if err := victim.journal.Set("doc.txt", &base); err != nil { // … and dies before the journal says so
				t.Fatal(err)
			}
			write(t, other, "doc.txt", "v3 by "+other.name+", made from v2")
			other.mustCycle(t)
			res := victim.mustCycle(t) // the restart
			mustConverge(t, a, b)
			tree := readTree(t, a.dir)
			if got, _ := read(t, a, "doc.txt"); got != "v3 by "+other.name+", made from v2" {
				t.Errorf("doc.txt = %q, want the newest version", got)
			}
			if res.Conflicts > 0 || len(tree) != 1 {
				t.Fatalf("regression: after a kill -9 between %s and its journal write, a newer remote version makes the "+
					"restarted cycle keep the old version as a conflict copy, a duplicate of a version already in the "+
					"vault's history (tree: %v). workspace/syncer/engine.go decide(): with both sides changed and "+
					"different contents it always chooses actConflict. Fix: before declaring a conflict, check whether "+
					"the local content is that of a version of the same file in the vault's history at or after the "+
					"base (Vault.History): then the local file is not an edit and the remote version is simply "+
					"downloaded", map[string]string{"download": "a download", "upload": "an upload's commit"}[side], sortedKeys(tree))
			}
		})
	}
}
