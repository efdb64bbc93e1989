package adversarial

import (
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// TestA11TreeTamperingRefused: the tree of a vault — names, folders, who
// is inside what — lives only in signed, encrypted manifests chained in
// the vault log, so what the server can do to it is reorder the log, drop
// an entry from its middle, serve an entry again, or serve another vault's
// entries in place of this one's: each is refused (certificate.ErrFork: the
// chain does not extend the verified head) by a reader that never saw the
// vault and by one that verified part of it, whose state stays. And a
// manifest listed in a folder other than the one it names as its parent —
// a subtree re-parented, as even a writer's own signed entry might try —
// is refused when the path is resolved (workspace.ErrBadManifest)
// (SECURITY.md A11; SPEC.md §11.3 "The tree", §11.5).
func TestA11TreeTamperingRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a11",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	// The vault's creation and the two grants each wrote a checkpoint
	// first (SPEC.md §11.5): k entries before this test's own.
	k := len(w.s.VaultLog(t, w.org, w.vault))
	mkdir(t, av, "/A")
	cv := w.open(t, "carol") // Carol verified up to the first of this test's entries only
	carolHead := cv.Log().Head
	mkdir(t, av, "/B")
	mkdir(t, av, "/A/X")
	put(t, av, "/A/X/file.txt", []byte("inside A/X"))
	put(t, av, "/top.txt", []byte("at the root"))
	entries := w.s.VaultLog(t, w.org, w.vault)
	if len(entries) != k+5 {
		t.Fatalf("%d entries, want %d", len(entries), k+5)
	}
	other, err := w.sess["alice"].CreateVault(bg(), "another vault")
	if err != nil {
		t.Fatal(err)
	}
	ov := w.openID(t, "alice", other.ID)
	mkdir(t, ov, "/A")
	mkdir(t, ov, "/B")
	otherEntries := w.s.VaultLog(t, w.org, other.ID)

	// In the server's answers, to Bob who never opened the vault.
	entry := func(p uint64, data []byte) *coffrev1.LogEntry { return &coffrev1.LogEntry{Position: p, Data: data} }
	answers := map[string]func(r *coffrev1.VaultReadResponse){
		"two entries swapped": func(r *coffrev1.VaultReadResponse) {
			r.Entries[k+1].Data, r.Entries[k+2].Data = r.Entries[k+2].Data, r.Entries[k+1].Data
		},
		"the last two swapped": func(r *coffrev1.VaultReadResponse) {
			r.Entries[k+3].Data, r.Entries[k+4].Data = r.Entries[k+4].Data, r.Entries[k+3].Data
		},
		"an entry dropped, the rest renumbered": func(r *coffrev1.VaultReadResponse) {
			r.Entries = r.Entries[:k+1]
			for i, data := range entries[k+2:] {
				r.Entries = append(r.Entries, entry(uint64(k+2+i), data))
			}
			r.HeadPosition = uint64(k + 4)
		},
		"an entry dropped, positions kept": func(r *coffrev1.VaultReadResponse) {
			r.Entries = slices.Delete(r.Entries, k+2, k+3)
		},
		"an entry served again": func(r *coffrev1.VaultReadResponse) {
			r.Entries = append(r.Entries, entry(uint64(k+6), entries[k+1]))
			r.HeadPosition = uint64(k + 6)
		},
		"an entry served twice in place of the next": func(r *coffrev1.VaultReadResponse) {
			r.Entries[k+3].Data = entries[k+2]
		},
		"positions relabelled": func(r *coffrev1.VaultReadResponse) {
			r.Entries[k+1].Position, r.Entries[k+2].Position = uint64(k+3), uint64(k+2)
		},
		"another vault's entries": func(r *coffrev1.VaultReadResponse) {
			r.Entries = []*coffrev1.LogEntry{entry(1, otherEntries[0]), entry(2, otherEntries[1])}
			r.HeadPosition = 2
		},
		"another vault's entry in the middle": func(r *coffrev1.VaultReadResponse) {
			r.Entries[k+1].Data = otherEntries[1]
		},
	}
	for name, rewrite := range answers {
		t.Run(name, func(t *testing.T) {
			defer w.s.ClearHooks()
			rewriteVaultRead(w.s, w.vault, func(req *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) {
				if req.GetFrom() == 1 && len(r.Entries) == k+5 {
					rewrite(r)
				}
			})
			_, err := w.sess["bob"].OpenVault(bg(), w.vault)
			wantErr(t, err, certificate.ErrFork)
			w.vaultUnchanged(t, "bob", nil, certificate.Head{})
		})
	}

	// In the store, to Carol who verified up to entry k+1: the server
	// reorders its log after that; then puts it back.
	t.Run("reordered in the store", func(t *testing.T) {
		w.s.SwapVaultEntries(t, w.org, w.vault, uint64(k+2), uint64(k+3))
		err := cv.Sync(bg())
		wantErr(t, err, certificate.ErrFork)
		if got := list(t, cv, "/"); !slices.Equal(got, []string{"A"}) {
			t.Fatalf("Carol lists %v", got)
		}
		w.vaultUnchanged(t, "carol", cv, carolHead)
		_, err = w.sess["carol"].OpenVault(bg(), w.vault)
		wantErr(t, err, certificate.ErrFork)
		w.vaultUnchanged(t, "carol", nil, carolHead)
		w.s.SwapVaultEntries(t, w.org, w.vault, uint64(k+2), uint64(k+3))
		cv = w.open(t, "carol")
		if got := list(t, cv, "/A/X"); !slices.Equal(got, []string{"file.txt"}) {
			t.Fatalf("Carol lists %v in /A/X", got)
		}
	})

	// A folder listing a manifest whose own parent is another folder: X,
	// made in A, listed in B as well (a signed, well-formed entry, as only
	// a writer could make). Resolving through B is refused; A is intact.
	t.Run("subtree re-parented", func(t *testing.T) {
		l := cv.Log()
		aVer, _ := cv.Stat("/A", zeroTime)
		bVer, _ := cv.Stat("/B", zeroTime)
		xVer, _ := cv.Stat("/A/X", zeroTime)
		topVer, _ := cv.Stat("/top.txt", zeroTime)
		index, key := w.keys(t, "alice").Newest()
		b := wireManifest(bVer.Manifest)
		b.GetFolder().Entries = append(b.GetFolder().Entries, &coffrev1.FolderEntry{Name: "X", Id: xVer.Manifest.ID, Folder: true})
		root := wireManifest(mustStat(t, cv, "/").Manifest)
		for _, e := range root.GetFolder().Entries {
			if e.GetId() == topVer.Manifest.ID {
				e.Folder = true // a file listed as a folder
			}
		}
		sort.Slice(root.GetFolder().Entries, func(i, j int) bool { return root.GetFolder().Entries[i].Name < root.GetFolder().Entries[j].Name })
		rootID := workspace.RootID(w.vault)
		body := w.draftEntry(t, w.s.LogState(t, w.org), w.dev["alice"].DeviceID, index)
		body.Writes = []*coffrev1.ManifestWrite{
			{ManifestId: bVer.Manifest.ID, Version: l.NextVersion(bVer.Manifest.ID), Ciphertext: sealManifest(t, w.org, w.vault, l.NextVersion(bVer.Manifest.ID), index, key, b)},
			{ManifestId: rootID, Version: l.NextVersion(rootID), Ciphertext: sealManifest(t, w.org, w.vault, l.NextVersion(rootID), index, key, root)},
		}
		w.s.AppendVaultRaw(t, w.org, w.vault, signEntry(t, w.dev["alice"].SigningKey, body))
		if err := cv.Sync(bg()); err != nil {
			t.Fatalf("a writer's well-formed entry: %v", err)
		}
		for _, p := range []string{"/B/X", "/B/X/file.txt", "/top.txt"} {
			if _, err := cv.Stat(p, zeroTime); !errors.Is(err, workspace.ErrBadManifest) {
				t.Errorf("stat %s: %v, want %v", p, err, workspace.ErrBadManifest)
			}
		}
		if _, err := cv.List("/B", zeroTime); !errors.Is(err, workspace.ErrBadManifest) {
			t.Errorf("ls /B: %v, want %v", err, workspace.ErrBadManifest)
		}
		getRefused(t, cv, "/B/X/file.txt", workspace.ErrBadManifest)
		if got := list(t, cv, "/A"); !slices.Equal(got, []string{"X"}) || aVer.Manifest.ID == "" {
			t.Fatalf("/A lists %v", got)
		}
		if got := string(get(t, cv, "/A/X/file.txt")); got != "inside A/X" {
			t.Fatalf("/A/X/file.txt reads %q", got)
		}
	})
}

func mustStat(t *testing.T, v *workspace.Vault, p string) workspace.Version {
	t.Helper()
	ver, err := v.Stat(p, zeroTime)
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return ver
}
