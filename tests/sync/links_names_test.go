package synctest

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coffre/coffre/workspace"
)

// remotePut writes a file into the vault as the admin (another member).
func (w *world) remotePut(t *testing.T, p, content string) {
	t.Helper()
	v := w.openVault(t)
	if dir := path.Dir(p); dir != "/" {
		if err := v.Mkdir(bg(), dir); err != nil && !errors.Is(err, workspace.ErrExists) {
			t.Fatal(err)
		}
	}
	if _, err := v.Put(bg(), p, strings.NewReader(content), nil); err != nil {
		t.Fatalf("putting %s: %v", p, err)
	}
}

// wantRemote checks the vault still lists every path of want.
func (w *world) wantRemote(t *testing.T, want ...string) {
	t.Helper()
	tree, _ := w.remoteTree(t)
	for _, p := range want {
		if _, ok := tree[p]; !ok {
			t.Errorf("%s was removed from the vault (vault: %v)", p, sortedKeys(tree))
		}
	}
}

// TestA38LinkInFolderNotFollowed: a link in the synced folder, pointing
// outside, where the vault has a folder: sync never writes through it (a
// new remote file under it doesn't land outside the folder) and never
// takes the entries it hides as deleted (SECURITY.md A38, SPEC.md §12).
func TestA38LinkInFolderNotFollowed(t *testing.T) {
	t.Parallel()
	w := newHostileWorld(t, devSpec{"bob", "bob", "bob-laptop"})
	w.remotePut(t, "/Documents/x.txt", "a patient's letter")
	b := w.engine(t, "bob")
	b.mustCycle(t)
	if _, err := os.Stat(filepath.Join(b.dir, "Documents", "x.txt")); err != nil {
		t.Fatalf("first sync: %v", err)
	}

	// Bob's Documents becomes a link to a folder outside (an innocent
	// one: his own, elsewhere).
	outside := t.TempDir()
	if err := os.RemoveAll(filepath.Join(b.dir, "Documents")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(b.dir, "Documents")); err != nil {
		t.Fatal(err)
	}
	res, err := b.cycle()
	t.Logf("cycle with the link: %+v, %v", res, err)
	w.wantRemote(t, "Documents", "Documents/x.txt")

	// Another member writes under that path.
	w.remotePut(t, "/Documents/y.txt", "written by a vault writer")
	res, err = b.cycle()
	t.Logf("cycle after the remote write: %+v, %v", res, err)
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("sync wrote outside the folder, through the link: %v", entries)
	}
	w.wantRemote(t, "Documents", "Documents/x.txt", "Documents/y.txt")
	if res.Skipped == 0 {
		t.Errorf("the link is not reported as not synced: %+v", res)
	}
	// A second cycle changes nothing either.
	b.cycle()
	w.wantRemote(t, "Documents", "Documents/x.txt", "Documents/y.txt")
}

// TestA38NamesOtherSystemsCantHold: names that collide on a
// case-insensitive or normalising file system (Scan.pdf, scan.pdf; é
// composed or not), and names Windows refuses (a:b, CON, a trailing dot),
// are never written locally, never uploaded, never deleted on either side
// (SECURITY.md A38, SPEC.md §12).
func TestA38NamesOtherSystemsCantHold(t *testing.T) {
	t.Parallel()
	w := newHostileWorld(t, devSpec{"bob", "bob", "bob-laptop"})
	w.remotePut(t, "/Scan.pdf", "first scan")
	b := w.engine(t, "bob")
	b.mustCycle(t) // Scan.pdf alone is synced
	if _, err := os.Stat(filepath.Join(b.dir, "Scan.pdf")); err != nil {
		t.Fatal(err)
	}
	remote := []string{"/scan.pdf", "/Caf\u00e9.txt", "/Cafe\u0301.txt", "/a:b.txt", "/CON.txt", "/notes.", `/back\slash`}
	for _, p := range remote {
		w.remotePut(t, p, "content of "+p)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "NUL"), []byte("local"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := b.cycle()
	t.Logf("cycle: %+v, %v", res, err)
	b.cycle()

	// No two local names are the same name to a case-insensitive,
	// normalising file system; the colliding ones are left as they were.
	seen := map[string]string{}
	var names []string
	entries, _ := os.ReadDir(b.dir)
	for _, e := range entries {
		names = append(names, e.Name())
		k := strings.ToLower(e.Name())
		k = strings.ReplaceAll(k, "e\u0301", "\u00e9")
		if other, ok := seen[k]; ok {
			t.Errorf("%q and %q are one file on macOS or Windows", other, e.Name())
		}
		seen[k] = e.Name()
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.ContainsAny(n, `\:`) || n == "CON.txt" || strings.HasSuffix(n, ".") {
			t.Errorf("%q written locally: Windows can't hold it", n)
		}
	}
	if got, err := os.ReadFile(filepath.Join(b.dir, "Scan.pdf")); err != nil || !bytes.Equal(got, []byte("first scan")) {
		t.Errorf("Scan.pdf changed or went: %q %v", got, err)
	}
	tree, _ := w.remoteTree(t)
	for _, p := range append(remote, "/Scan.pdf") {
		if _, ok := tree[strings.TrimPrefix(p, "/")]; !ok {
			t.Errorf("%s was removed from the vault", p)
		}
	}
	if _, ok := tree["NUL"]; ok {
		t.Error("the local NUL was uploaded")
	}
	if res.Skipped < len(remote)+2 {
		t.Errorf("%d paths reported not synced, want %d: %+v (folder: %v)", res.Skipped, len(remote)+2, res, names)
	}
}
