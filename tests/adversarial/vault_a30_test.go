package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// TestA30WithheldVaultEntriesRefused: bob, a reader who never saw the
// vault's data, is shown the vault with no entries at all, or with the
// entries up to just before the checkpoint that followed its key's
// rotation. The organisation log proves more exists (the rotation is
// followed by a checkpoint claiming a position after it), so opening the
// vault fails with workspace.ErrWithheld instead of listing an empty or
// older folder (SECURITY.md A30; SPEC.md §11.5).
func TestA30WithheldVaultEntriesRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a30",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"dave", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/before.txt", []byte("written before dave left"))
	if err := w.sess["alice"].UnshareVault(bg(), w.vault, "dave@example.org"); err != nil {
		t.Fatal(err)
	}
	checkpoint := w.s.VaultHead(t, w.org, w.vault).Position
	mustSync(t, w.sess["bob"])

	// In this order: after the second, bob's device holds the entries it
	// was shown (valid ones), and a shorter log would be a rollback.
	for _, c := range []struct {
		name string
		keep uint64
	}{{"no entries at all", 0}, {"the checkpoint withheld", checkpoint - 1}} {
		keep := c.keep
		t.Run(c.name, func(t *testing.T) {
			rewriteVaultRead(w.s, w.vault, func(_ *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) {
				var kept []*coffrev1.LogEntry
				for _, e := range r.Entries {
					if e.Position <= keep {
						kept = append(kept, e)
					}
				}
				r.Entries, r.HeadPosition = kept, keep
			})
			defer w.s.ClearHooks()
			v, err := w.sess["bob"].OpenVault(bg(), w.vault)
			wantErr(t, err, workspace.ErrWithheld)
			if v != nil {
				t.Fatalf("opened, listing %v", list(t, v, "/"))
			}
		})
	}
	// Control: the whole log opens.
	bv := w.open(t, "bob")
	if got := list(t, bv, "/"); len(got) != 1 || got[0] != "before.txt" {
		t.Fatalf("bob lists %v", got)
	}
}

// TestA30NeverRotatedVaultWithheld: a vault whose key was never rotated
// is not shown empty or older to a member who never verified its entries.
// Its creation and each grant of a key are followed by a checkpoint entry
// claiming that position, so a log with no entry claiming the newest one
// is withheld (SECURITY.md A30, SPEC.md §11.5).
func TestA30NeverRotatedVaultWithheld(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a30-key1",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleNone})
	av := w.open(t, "alice")
	put(t, av, "/report.txt", []byte("written before carol joined"))
	beforeGrant := w.s.VaultHead(t, w.org, w.vault).Position
	if _, err := w.sess["alice"].ShareVault(bg(), w.vault, "carol@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := w.sess["alice"].Organisation().Vault(w.vault); v.KeyIndex() != 1 {
		t.Fatalf("the vault has key %d, this test needs a never-rotated vault", v.KeyIndex())
	}
	mustSync(t, w.sess["bob"])
	mustSync(t, w.sess["carol"])

	for _, c := range []struct {
		name, who string
		keep      uint64
	}{
		{"no entries at all, to a member since creation", "bob", 0},
		{"no entries at all, to a new member", "carol", 0},
		{"the entries before the new member's grant only", "carol", beforeGrant},
	} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			rewriteVaultRead(w.s, w.vault, func(_ *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) {
				var kept []*coffrev1.LogEntry
				for _, e := range r.Entries {
					if e.Position <= c.keep {
						kept = append(kept, e)
					}
				}
				r.Entries, r.HeadPosition = kept, c.keep
			})
			defer w.s.ClearHooks()
			v, err := w.sess[c.who].OpenVault(bg(), w.vault)
			wantErr(t, err, workspace.ErrWithheld)
			if v != nil {
				t.Fatalf("opened, listing %v", list(t, v, "/"))
			}
		})
	}
	// Control: the whole log opens for both.
	for _, who := range []string{"bob", "carol"} {
		if got := list(t, w.open(t, who), "/"); len(got) != 1 || got[0] != "report.txt" {
			t.Fatalf("%s lists %v", who, got)
		}
	}
}
