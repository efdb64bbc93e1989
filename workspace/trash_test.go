package workspace

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

func put(t *testing.T, v *Vault, p, content string) {
	t.Helper()
	if _, err := v.Put(context.Background(), p, strings.NewReader(content), nil); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, v *Vault, p string) {
	t.Helper()
	if err := v.Mkdir(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, v *Vault, p string) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := v.WriteTo(context.Background(), p, time.Time{}, &b, nil); err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return b.String()
}

func trashPaths(t *testing.T, v *Vault, folder string) []string {
	t.Helper()
	rs, err := v.Trash(folder)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.Path)
	}
	return out
}

// A removed file is in the trash with who removed it and when, and comes
// back as a new version: by default the one it had, or an older one; a
// move is not a removal.
func TestTrashAndUndeleteFile(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	mkdir(t, v, "/a")
	mkdir(t, v, "/b")
	put(t, v, "/a/f", "first")
	put(t, v, "/a/f", "second")
	put(t, v, "/a/moved", "moved")
	if err := v.Move(ctx, "/a/moved", "/b/moved"); err != nil {
		t.Fatal(err)
	}
	if got := trashPaths(t, v, "/"); len(got) != 0 {
		t.Fatalf("trash after a move: %v, want empty", got)
	}
	if err := v.Remove(ctx, "/a/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.History("/a/f"); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrRemoved) {
		t.Fatalf("history of a removed file: %v", err)
	}
	rs, err := v.Trash("/a")
	if err != nil || len(rs) != 1 {
		t.Fatalf("trash of /a: %+v, %v; want the removed file", rs, err)
	}
	r := rs[0]
	if r.Path != "/a/f" || r.Folder || r.Version.Version != 2 || r.By != m.user || r.Device != m.writer.DeviceID || r.Position != v.Log().Head.Position {
		t.Fatalf("trash entry %+v", r)
	}
	if got := trashPaths(t, v, "/b"); len(got) != 0 {
		t.Fatalf("trash of /b: %v, want empty", got)
	}

	got, err := v.Undelete(ctx, "/a/f", 0)
	if err != nil || got.Version != 3 || content(t, v, "/a/f") != "second" {
		t.Fatalf("undelete: v%d, %v", got.Version, err)
	}
	if got := trashPaths(t, v, "/"); len(got) != 0 {
		t.Fatalf("trash after undelete: %v", got)
	}
	if _, err := v.Undelete(ctx, "/a/f", 0); !errors.Is(err, ErrNotInTrash) {
		t.Fatalf("undelete of a file in the tree: %v, want ErrNotInTrash", err)
	}

	if err := v.Remove(ctx, "/a/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Undelete(ctx, "/a/f", 9); err == nil || !strings.Contains(err.Error(), "versions 1 to 3") {
		t.Fatalf("undelete of a version it never had: %v", err)
	}
	// The name taken meanwhile: refused, the new file untouched.
	put(t, v, "/a/f", "new file")
	if _, err := v.Undelete(ctx, "/a/f", 1); !errors.Is(err, ErrExists) {
		t.Fatalf("undelete over a new file: %v, want ErrExists", err)
	}
	if err := v.Move(ctx, "/a/f", "/a/g"); err != nil {
		t.Fatal(err)
	}
	got, err = v.Undelete(ctx, "/a/f", 1)
	if err != nil || got.Version != 4 || content(t, v, "/a/f") != "first" || content(t, v, "/a/g") != "new file" {
		t.Fatalf("undelete --version 1: v%d, %v", got.Version, err)
	}
	if hist, _ := v.History("/a/f"); len(hist) != 4 {
		t.Fatalf("history after undelete: %d versions, want 4 (nothing rewritten)", len(hist))
	}
	// Another device verifies the whole log from the start and agrees.
	other := m.open(t, srv, Deps{})
	if content(t, other, "/a/f") != "first" || len(trashPaths(t, other, "/")) != 0 {
		t.Fatal("a reader replaying the log does not see the file back")
	}
}

// detach removes p from its folder in one entry without touching what is
// under it: what a recursive removal of a folder writes.
func detach(t *testing.T, v *Vault, p string) {
	t.Helper()
	names, _ := SplitPath(p)
	err := v.commit(context.Background(), func(l *Log) ([]*Manifest, error) {
		parent, err := v.view(context.Background(), l, time.Time{}).folderFor(names[:len(names)-1])
		if err != nil {
			return nil, err
		}
		kept := parent.Children[:0]
		for _, c := range parent.Children {
			if c.Name != names[len(names)-1] {
				kept = append(kept, c)
			}
		}
		parent.Children = kept
		return []*Manifest{parent}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A folder comes back with what it held, recursively, whether it was
// removed at once or emptied first; an item removed from a folder that is
// gone waits for its folder.
func TestUndeleteFolder(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	v := m.open(t, &server{}, Deps{})
	mkdir(t, v, "/d")
	mkdir(t, v, "/d/e")
	put(t, v, "/d/x", "x")
	put(t, v, "/d/e/y", "y")

	detach(t, v, "/d")
	if got := strings.Join(trashPaths(t, v, "/"), " "); got != "/d" {
		t.Fatalf("trash after removing a folder at once: %q, want /d only", got)
	}
	if _, err := v.Undelete(ctx, "/d", 0); err != nil {
		t.Fatal(err)
	}
	if content(t, v, "/d/x") != "x" || content(t, v, "/d/e/y") != "y" {
		t.Fatal("the folder came back without its files")
	}

	// Emptied and removed in one entry, deepest first: one trash entry,
	// and the folders under it come back as they were before it.
	err := v.commit(ctx, func(l *Log) ([]*Manifest, error) {
		var out []*Manifest
		for _, dir := range [][]string{{"d", "e"}, {"d"}, nil} {
			f, err := v.view(ctx, l, time.Time{}).folderFor(dir)
			if err != nil {
				return nil, err
			}
			keep := f.Children[:0]
			for _, c := range f.Children {
				if len(dir) == 0 && c.Name != "d" {
					keep = append(keep, c)
				}
			}
			f.Children = keep
			out = append(out, f)
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trashPaths(t, v, "/"), " "); got != "/d" {
		t.Fatalf("trash after removing a tree in one entry: %q, want /d only", got)
	}
	if _, err := v.Undelete(ctx, "/d", 0); err != nil {
		t.Fatal(err)
	}
	if content(t, v, "/d/x") != "x" || content(t, v, "/d/e/y") != "y" {
		t.Fatal("the tree removed in one entry came back without its files")
	}

	// Emptied first, one by one.
	for _, p := range []string{"/d/e/y", "/d/e", "/d/x", "/d"} {
		if err := v.Remove(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(trashPaths(t, v, "/d"), " "); got != "/d /d/e /d/e/y /d/x" {
		t.Fatalf("trash after removing one by one: %q", got)
	}
	if _, err := v.Undelete(ctx, "/d/e/y", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("undelete into a removed folder: %v, want ErrNotFound", err)
	}
	for _, p := range []string{"/d", "/d/e", "/d/e/y"} {
		if _, err := v.Undelete(ctx, p, 0); err != nil {
			t.Fatalf("undelete %s: %v", p, err)
		}
	}
	if content(t, v, "/d/e/y") != "y" {
		t.Fatal("/d/e/y did not come back")
	}
	if got := strings.Join(trashPaths(t, v, "/"), " "); got != "/d/x" {
		t.Fatalf("trash: %q, want /d/x left", got)
	}
}

// Undelete is a write like any other: a member who may not write can't
// (the role and archive checks are commit's), and a reader refuses an
// entry that lists a removed file in another folder without writing the
// file there: the file still names its old folder (SECURITY.md A11).
func TestUndeleteChecks(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	mkdir(t, v, "/a")
	mkdir(t, v, "/b")
	put(t, v, "/a/f", "secret")
	if err := v.Remove(ctx, "/a/f"); err != nil {
		t.Fatal(err)
	}

	key, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	stranger := m.open(t, srv, Deps{})
	stranger.writer = Writer{DeviceID: certificate.NewID(), UserID: certificate.NewID(), Key: key}
	if _, err := stranger.Undelete(ctx, "/a/f", 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("undelete without a write role: %v, want ErrReadOnly", err)
	}

	rs, _ := v.Trash("/")
	err = v.commit(ctx, func(l *Log) ([]*Manifest, error) {
		b, err := v.view(ctx, l, time.Time{}).folderFor([]string{"b"})
		if err != nil {
			return nil, err
		}
		b.Children = append(b.Children, ChildEntry{Name: "f", ID: rs[0].ID})
		return []*Manifest{b}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reader := m.open(t, srv, Deps{})
	if _, err := reader.Stat("/b/f", time.Time{}); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("a removed file listed elsewhere without its own write: %v, want ErrBadManifest", err)
	}
}
