package cli

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/workspace/syncer"
)

// TestSyncPrinter: what a person reads from a running sync — the files
// moved, one a line and then a count; a lock, with what to run; the files
// a reader keeps local only, once each time that list changes.
func TestSyncPrinter(t *testing.T) {
	var out strings.Builder
	p := newSyncPrinter(&out, &out)
	f := syncservice.Folder{Name: "cardiology", Dir: "/home/alice/Cardiology"}

	res := syncer.Result{Uploaded: 24, Conflicts: 1, Moved: 1}
	for i := range 24 {
		res.Changes = append(res.Changes, syncer.Change{Op: syncer.Uploaded, Path: fmt.Sprintf("scans/%02d.pdf", i)})
	}
	res.Changes = append([]syncer.Change{
		{Op: syncer.ConflictCopy, Path: "report.txt", Copy: "report (conflict Alice Martin 2026-12-05 101500).txt"},
		{Op: syncer.Moved, Path: "2026/minutes.txt", From: "archive/minutes.txt"},
	}, res.Changes...)
	p.Cycle(f, syncer.Status{State: "idle"}, res)
	got := out.String()
	for _, want := range []string{
		"cardiology: idle, ↑24 ↓0, 1 conflicts kept as copies, 1 moved where another device moved them\n",
		"  conflict on report.txt: your version kept as report (conflict Alice Martin 2026-12-05 101500).txt\n",
		"  moved archive/minutes.txt to 2026/minutes.txt, where another device moved it too\n",
		"  ↑ scans/00.pdf\n",
		"  ↑ scans/17.pdf\n",
		"  … and 6 more\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "scans/18.pdf") {
		t.Errorf("more than %d files named:\n%s", maxNamed, got)
	}

	out.Reset()
	p.Cycle(f, syncer.Status{State: "locked"}, syncer.Result{})
	p.Cycle(f, syncer.Status{State: "locked"}, syncer.Result{})
	if got := out.String(); strings.Count(got, "cardiology: locked: run coffre unlock\n") != 1 || strings.Count(got, "\n") != 1 {
		t.Errorf("a lock printed:\n%s", got)
	}

	out.Reset()
	st := syncer.Status{State: "idle", LocalOnly: []string{"draft.txt", "notes.txt"}}
	p.Cycle(f, st, syncer.Result{LocalOnly: st.LocalOnly})
	p.Cycle(f, st, syncer.Result{LocalOnly: st.LocalOnly})
	got = out.String()
	if strings.Count(got, "2 kept local only (you can only read this vault)") != 1 || !strings.Contains(got, "  local only draft.txt\n  local only notes.txt\n") {
		t.Errorf("local-only files printed:\n%s", got)
	}
}

// TestQuietSync: with --quiet a sync keeps quiet about what it moved, and
// still says what needs the person: a lock, an error.
func TestQuietSync(t *testing.T) {
	var out strings.Builder
	p := newSyncPrinter(&out, io.Discard)
	f := syncservice.Folder{Name: "cardiology", Dir: "/home/alice/Cardiology"}
	p.Watching(f)
	p.Cycle(f, syncer.Status{State: "idle"}, syncer.Result{Uploaded: 1, Changes: []syncer.Change{{Op: syncer.Uploaded, Path: "scan.pdf"}}})
	if got := out.String(); got != "" {
		t.Errorf("a quiet sync printed:\n%s", got)
	}
	p.Cycle(f, syncer.Status{State: "error", LastError: "cannot reach the server"}, syncer.Result{})
	p.Cycle(f, syncer.Status{State: "locked"}, syncer.Result{})
	got := out.String()
	if !strings.Contains(got, "cardiology: error, ↑0 ↓0: cannot reach the server\n") || !strings.Contains(got, "cardiology: locked: run coffre unlock\n") {
		t.Errorf("a quiet sync did not say what needs the person:\n%s", got)
	}
}

// TestSyncState: 'coffre status' tells a running sync from a stopped one,
// and says what to run for a locked one.
func TestSyncState(t *testing.T) {
	for state, want := range map[string]string{
		"idle":              "running, up to date",
		"offline":           "running, offline (server unreachable)",
		"locked":            "locked: run coffre unlock",
		syncservice.Stopped: "stopped (no coffre sync running)",
		"error":             "running, error",
	} {
		if got := syncState(state); got != want {
			t.Errorf("%s: %q, want %q", state, got, want)
		}
	}
}
