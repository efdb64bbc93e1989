package adversarial

import (
	"slices"
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestUnshareIsFourCalls: an owner who is up to date unshares a member
// with one GetLog (the sync before signing), one AppendCertificates (the
// removal and the rotation), then the checkpoint: one VaultRead that
// brings the server's signed heads, which the checkpoint's freshness
// check uses (SPEC.md §4.4), and one VaultAppend. The vault log is not
// read a second time before the checkpoint, and the rotation is not read
// back. The checkpoint is the server's newest vault entry, and the member
// who stayed opens the vault under the new key.
func TestUnshareIsFourCalls(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "calls",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/kept.txt", []byte("written before the unshare"))
	mustSync(t, w.sess["alice"])
	got := w.methodsOf(t, func() error {
		return w.sess["alice"].UnshareVault(bg(), w.vault, "bob@example.org")
	})
	want := []string{
		coffrev1.CoffreService_GetLog_FullMethodName,
		coffrev1.CoffreService_AppendCertificates_FullMethodName,
		coffrev1.CoffreService_VaultRead_FullMethodName,
		coffrev1.CoffreService_VaultAppend_FullMethodName,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("an unshare made the calls %v, want %v", got, want)
	}
	cv := w.open(t, "carol")
	if _, info, err := w.sess["carol"].FindVault(w.vault); err != nil || info.KeyIndex != 2 || len(info.Members) != 2 {
		t.Fatalf("carol sees key %d and %d members after the rotation (%v), want key 2 and 2 members", info.KeyIndex, len(info.Members), err)
	}
	if cv.NeedsCheckpoint() {
		t.Fatal("the vault log lacks the checkpoint after the rotation")
	}
	if got := get(t, cv, "/kept.txt"); string(got) != "written before the unshare" {
		t.Fatalf("carol reads %q", got)
	}
}
