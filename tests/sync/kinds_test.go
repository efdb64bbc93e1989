package synctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Files replaced by folders and folders by files, and moves combined with
// renames: what only one side changed follows that side, with no conflict
// copy of what the other side did not touch.

// wantTree checks that d's folder holds exactly want: path → content, or
// "/" for a folder; a path ending in "(conflict *)" matches a conflict copy
// of that stem made by any device at any time.
func wantTree(t *testing.T, d *engineDev, want map[string]string) {
	t.Helper()
	tree := readTree(t, d.dir)
	got := map[string]string{}
	for p, e := range tree {
		c := "/"
		if !e.folder {
			c, _ = read(t, d, p)
		}
		got[anyCopy(p)] = c
	}
	var diff []string
	for _, p := range sortedKeys(want) {
		if got[p] != want[p] {
			diff = append(diff, p+": got "+quoteOrMissing(got, p)+", want "+want[p])
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			diff = append(diff, p+": unexpected ("+got[p]+")")
		}
	}
	if len(diff) > 0 {
		t.Errorf("%s's folder:\n  %s", d.name, strings.Join(diff, "\n  "))
	}
}

// anyCopy is p with each conflict copy's device and time replaced by *.
func anyCopy(p string) string {
	names := strings.Split(p, "/")
	for i, n := range names {
		if m := conflictName.FindStringSubmatch(n); m != nil {
			names[i] = m[1] + " (conflict *)" + m[5]
		}
	}
	return strings.Join(names, "/")
}

func quoteOrMissing(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return "\"" + v + "\""
	}
	return "nothing"
}

// mv renames from to to in d's folder.
func mv(t *testing.T, d *engineDev, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(d.dir, from), filepath.Join(d.dir, to)); err != nil {
		t.Fatal(err)
	}
}

// wantVaultIs checks that the vault lists exactly the paths of d's folder.
func wantVaultIs(t *testing.T, w *world, d *engineDev) {
	t.Helper()
	remote, _ := w.remoteTree(t)
	local := readTree(t, d.dir)
	for p, e := range local {
		if r, ok := remote[p]; !ok || r.Manifest.Folder != e.folder {
			t.Errorf("%s is in %s's folder (folder %v), not so in the vault", p, d.name, e.folder)
		}
	}
	for p := range remote {
		if _, ok := local[p]; !ok {
			t.Errorf("the vault has %s, %s's folder does not", p, d.name)
		}
	}
}

// TestLocalKindChange: alice replaces a file with a folder of the same name,
// and a folder with a file. Only she changed them: the vault and bob take
// her versions, and nobody gets a conflict copy. (Before: her folder was
// recorded as agreeing with the vault's file, and its files never went
// up: no cycle was ever quiet.)
func TestLocalKindChange(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "f.txt", "a file")
	write(t, a, "D/x.txt", "x")
	mustConverge(t, a, b)

	if err := os.Remove(filepath.Join(a.dir, "f.txt")); err != nil {
		t.Fatal(err)
	}
	write(t, a, "f.txt/inner.txt", "in the folder that replaced a file")
	if err := os.RemoveAll(filepath.Join(a.dir, "D")); err != nil {
		t.Fatal(err)
	}
	write(t, a, "D", "a file that replaced a folder")
	mustConverge(t, a, b)
	want := map[string]string{
		"f.txt": "/", "f.txt/inner.txt": "in the folder that replaced a file",
		"D": "a file that replaced a folder",
	}
	wantTree(t, a, want)
	wantTree(t, b, want)
	wantVaultIs(t, w, a)
}

// TestVaultKindChange: another member replaces, in the vault, a file with
// a folder and a folder with a file. Where bob did not change them, his
// folder follows the vault, with no conflict copy of what he never touched
// (before: his unchanged file, or folder, became a conflict copy: a
// duplicate of bytes the vault had dropped or moved elsewhere). What he
// did change stays, as a conflict copy holding only his changes.
func TestVaultKindChange(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "f.txt", "a file")
	write(t, a, "D/x.txt", "x")
	write(t, a, "g.txt", "another file")
	write(t, a, "E/y.txt", "y")
	write(t, a, "E/z.txt", "z")
	mustConverge(t, a, b)

	// Bob edits g.txt and adds to E; the vault replaces all four.
	write(t, b, "g.txt", "bob's edit")
	write(t, b, "E/new.txt", "bob's addition")
	v := w.openVault(t)
	for _, p := range []string{"/f.txt", "/D/x.txt", "/D", "/g.txt", "/E/y.txt", "/E/z.txt", "/E"} {
		if err := v.Remove(bg(), p); err != nil {
			t.Fatalf("removing %s: %v", p, err)
		}
	}
	for _, p := range []string{"/f.txt", "/g.txt"} {
		if err := v.Mkdir(bg(), p); err != nil {
			t.Fatal(err)
		}
	}
	w.remotePut(t, "/f.txt/inner.txt", "in the vault's folder f.txt")
	w.remotePut(t, "/D", "the vault's file D")
	w.remotePut(t, "/E", "the vault's file E")

	if ok, errs := converge(b, a); !ok {
		t.Fatalf("no quiet round: %v", errs)
	}
	sameTrees(t, a, b)
	wantTree(t, b, map[string]string{
		"f.txt": "/", "f.txt/inner.txt": "in the vault's folder f.txt",
		"D":                  "the vault's file D",
		"g.txt":              "/",
		"g (conflict *).txt": "bob's edit",
		"E":                  "the vault's file E",
		"E (conflict *)":     "/", "E (conflict *)/new.txt": "bob's addition",
	})
	wantVaultIs(t, w, b)
}

// TestConcurrentMovesAndARename: alice moves folder D to E; bob, before
// syncing, moves D to F and renames a file in it. Alice's move reached the
// vault first and wins, as for any concurrent move (TestConcurrentMovesOfOneFolder),
// but the name bob gave the file is his own change, which nobody else
// made: the file ends at E under bob's name (before: at E under its old
// name, bob's rename lost). A file renamed on both sides keeps the vault's
// name.
func TestConcurrentMovesAndARename(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "D/a.txt", "a")
	write(t, a, "D/b.txt", "b")
	write(t, a, "D/c.txt", "c")
	mustConverge(t, a, b)

	mv(t, a, "D", "E")
	mv(t, a, "E/c.txt", "E/c by alice.txt")
	a.mustCycle(t)
	mv(t, b, "D", "F")
	mv(t, b, "F/a.txt", "F/a by bob.txt")
	mv(t, b, "F/c.txt", "F/c by bob.txt")
	res := b.mustCycle(t)
	mustConverge(t, a, b)
	want := map[string]string{
		"E": "/", "E/a by bob.txt": "a", "E/b.txt": "b", "E/c by alice.txt": "c",
		"F": "/",
	}
	wantTree(t, a, want)
	wantVaultIs(t, w, a)
	if res.Moved != 3 {
		t.Errorf("bob's cycle moved %d files to alice's places, want 3: %+v", res.Moved, res.Changes)
	}

	// Both move E to G; bob also renames a file in it: his file is where
	// the vault's folder is already, and keeps his name.
	mv(t, a, "E", "G")
	a.mustCycle(t)
	mv(t, b, "E", "G")
	mv(t, b, "G/b.txt", "G/b by bob.txt")
	mustConverge(t, a, b)
	want = map[string]string{
		"G": "/", "G/a by bob.txt": "a", "G/b by bob.txt": "b", "G/c by alice.txt": "c",
		"F": "/",
	}
	wantTree(t, a, want)
	wantVaultIs(t, w, a)
}

// TestMoveAndRenameOnOneDevice: a folder moved and a file in it renamed on
// one device between two syncs arrive as such on the other.
func TestMoveAndRenameOnOneDevice(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "D/a.txt", "a")
	write(t, a, "D/b.txt", "b")
	mustConverge(t, a, b)
	mv(t, a, "D", "E")
	mv(t, a, "E/a.txt", "E/renamed.txt")
	mustConverge(t, a, b)
	want := map[string]string{"E": "/", "E/renamed.txt": "a", "E/b.txt": "b"}
	wantTree(t, a, want)
	wantTree(t, b, want)
	wantVaultIs(t, w, b)
}

// TestMoveIntoAFolderDeletedElsewhere: bob moves f.txt into P/sub, which
// alice has just deleted in the vault, so his upload fails in that cycle
// (the folder comes back in the next); carol, not synced yet, moved f.txt
// to C. Bob's deletion of f.txt waits for his upload: carried alone, it
// would leave f.txt's bytes in no place the vault knows, carol could not
// see that bob had moved it too, and both copies would stay (seed 7015 of
// TestRandomisedConvergence). The file ends once, in carol's folder
// (first in the vault) under bob's name.
func TestMoveIntoAFolderDeletedElsewhere(t *testing.T) {
	t.Parallel()
	w, a, b, c := threeDevices(t)
	write(t, a, "f.txt", "f")
	write(t, a, "P/sub/other.txt", "other")
	mustConverge(t, a, b, c)

	if err := os.RemoveAll(filepath.Join(a.dir, "P")); err != nil {
		t.Fatal(err)
	}
	if ok, errs := converge(a); !ok { // the folder's removal takes two cycles
		t.Fatalf("alice: %v", errs)
	}
	if err := os.Mkdir(filepath.Join(c.dir, "C"), 0o755); err != nil {
		t.Fatal(err)
	}
	mv(t, c, "f.txt", "C/f.txt")
	mv(t, b, "f.txt", "P/sub/g.txt")
	b.cycle() // P is gone in the vault: the upload fails
	c.mustCycle(t)
	mustConverge(t, a, b, c)
	wantTree(t, a, map[string]string{"C": "/", "C/g.txt": "f", "P": "/", "P/sub": "/"})
	wantVaultIs(t, w, a)
}

// TestFolderReplacedWhileItsFileMoves: alice moves D/x.txt out to y.txt,
// which waits to settle, and replaces the folder D with a file. The
// deletion of D/x.txt waits for y.txt's upload, and so does D's
// replacement in the vault: D is not empty there, but only with alice's
// own file, not with someone else's (which would make her file D a
// conflict copy, and bring the folder back).
func TestFolderReplacedWhileItsFileMoves(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	write(t, a, "D/x.txt", "x")
	mustConverge(t, a, b)

	mv(t, a, "D/x.txt", "y.txt")
	if err := os.Remove(filepath.Join(a.dir, "D")); err != nil {
		t.Fatal(err)
	}
	write(t, a, "D", "a file that replaced a folder")
	a.eng.Settle = time.Hour // y.txt is not uploaded in this cycle
	a.mustCycle(t)
	a.eng.Settle = 0
	mustConverge(t, a, b)
	want := map[string]string{"y.txt": "x", "D": "a file that replaced a folder"}
	wantTree(t, a, want)
	wantTree(t, b, want)
	wantVaultIs(t, w, a)
}
