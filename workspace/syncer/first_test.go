package syncer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

// files reads every regular file under dir, by path from it.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The first sync of a folder that already holds files: nothing local is
// lost. A file equal to the vault's stays as it is; one that differs is
// kept as a conflict copy named like every conflict copy, and the vault's
// takes the name; a local file where the vault has a folder, or a local
// folder where it has a file, moves aside the same way; files only local
// stay (and go up).
func TestFirstSyncIntoAFolderWithFiles(t *testing.T) {
	ctx := context.Background()
	s := hostile.Bootstrap(t, hostile.Start(t), filepath.Join(t.TempDir(), "home"))
	if _, err := s.CreateVault(ctx, "cardio"); err != nil {
		t.Fatal(err)
	}
	v, err := s.OpenVault(ctx, "cardio")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/dir", "/folder"} {
		if err := v.Mkdir(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range map[string]string{"/a.txt": "vault a", "/same.txt": "same", "/dir/b.txt": "vault b", "/folder/c.txt": "vault c", "/clash": "vault clash"} {
		if _, err := v.Put(ctx, p, strings.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	local := map[string]string{"a.txt": "my a", "same.txt": "same", "dir/b.txt": "my b", "mine.txt": "only mine", "folder": "a file", "clash/d.txt": "my d"}
	old := time.Now().Add(-time.Minute) // settled: uploaded in this cycle
	for p, c := range local {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(f, old, old)
	}
	j, err := syncer.OpenJournal(filepath.Join(t.TempDir(), "journal.db"), syncer.FixedKey(crypto.NewSecretKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	at := time.Now().Add(time.Hour) // after every file was written: all settled
	e := &syncer.Engine{Dir: dir, Journal: j, Device: "laptop", Now: func() time.Time { return at },
		Open: func(context.Context) (*workspace.Vault, func(), error) { return v, func() {}, nil }}
	// A local folder moved aside is synced by the next cycle; what the scan
	// found in it is pending, not an error.
	res, err := e.Cycle(ctx)
	if err != nil || res.Pending != 1 {
		t.Fatalf("first cycle: %v, %d pending; want no error and clash/d.txt pending", err, res.Pending)
	}
	if _, err := e.Cycle(ctx); err != nil {
		t.Fatalf("second cycle: %v", err)
	}
	if res.Conflicts != 4 {
		t.Errorf("first cycle: %d conflicts, want 4 (a.txt, dir/b.txt, folder, clash)", res.Conflicts)
	}

	got := files(t, dir)
	stamp := " (conflict laptop " + at.Format("2006-01-02 150405") + ")"
	want := map[string]string{
		"a.txt": "vault a", "a" + stamp + ".txt": "my a",
		"same.txt":  "same",
		"dir/b.txt": "vault b", "dir/b" + stamp + ".txt": "my b",
		"folder/c.txt": "vault c", "folder" + stamp: "a file",
		"clash": "vault clash", "clash" + stamp + "/d.txt": "my d",
		"mine.txt": "only mine",
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("%s: %q, want %q", p, got[p], c)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected local file %s", p)
		}
	}
	// Every local byte is still on the disk, and now in the vault too.
	for p, c := range want {
		var b strings.Builder
		if _, err := v.WriteTo(ctx, "/"+p, time.Time{}, &b, nil); err != nil || b.String() != c {
			t.Errorf("vault %s: %q, %v; want %q", p, b.String(), err, c)
		}
	}
}
