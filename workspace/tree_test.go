package workspace

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestMkdirAllAndRemoveAll: mkdir -p makes every missing folder in one
// entry and writes nothing for a folder that exists; rm -r removes a
// folder with all it holds in one entry, and the past still reads it
// (issue 12).
func TestMkdirAllAndRemoveAll(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	now := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	v := m.open(t, srv, Deps{Clock: func() time.Time { return now }})

	if err := v.Mkdir(ctx, "/a/b/c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Mkdir with missing parents: %v, want ErrNotFound", err)
	}
	before := len(srv.entries())
	if err := v.MkdirAll(ctx, "/a/b/c"); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.entries()) - before; got != 1 {
		t.Errorf("MkdirAll wrote %d entries, want 1", got)
	}
	if ver, err := v.Stat("/a/b/c", time.Time{}); err != nil || !ver.Manifest.Folder {
		t.Fatalf("after MkdirAll: %+v, %v", ver, err)
	}
	before = len(srv.entries())
	for _, p := range []string{"/a/b/c", "/a", "/"} {
		if err := v.MkdirAll(ctx, p); err != nil {
			t.Errorf("MkdirAll(%s) of a folder that exists: %v", p, err)
		}
	}
	if got := len(srv.entries()) - before; got != 0 {
		t.Errorf("MkdirAll of existing folders wrote %d entries", got)
	}
	if err := v.MkdirAll(ctx, "/a/x/y"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "/a/b/c/f", bytes.NewReader([]byte("scan")), nil); err != nil {
		t.Fatal(err)
	}
	if err := v.MkdirAll(ctx, "/a/b/c/f/g"); !errors.Is(err, ErrNotFolder) {
		t.Errorf("MkdirAll through a file: %v, want ErrNotFolder", err)
	}

	if err := v.Remove(ctx, "/a"); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Remove of a folder with something in it: %v, want ErrNotEmpty", err)
	}
	was := now
	now = now.Add(time.Minute)
	before = len(srv.entries())
	if err := v.RemoveAll(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.entries()) - before; got != 1 {
		t.Errorf("RemoveAll wrote %d entries, want 1", got)
	}
	for _, p := range []string{"/a", "/a/b/c/f", "/a/x/y"} {
		if _, err := v.Stat(p, time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("after RemoveAll, %s: %v, want ErrNotFound", p, err)
		}
	}
	var out bytes.Buffer
	if _, err := v.WriteTo(ctx, "/a/b/c/f", was, &out, nil); err != nil || out.String() != "scan" {
		t.Errorf("reading /a/b/c/f as it was before the removal: %q, %v", out.String(), err)
	}
	if err := v.RemoveAll(ctx, "/"); err == nil {
		t.Error("RemoveAll of the root succeeded")
	}
}
