package adversarial

import (
	"bytes"
	"slices"
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// TestPutOfASmallFileIsThreeCalls: a device that is up to date puts a new
// small file with one VaultRead (the sync before the upload, which brings
// the server's signed heads, §4.4), one PutBlock and one VaultAppend: no
// GetHead, no second sync before its first try, and its own entry is not
// read back (SPEC.md §11.5). Under many clients each call was a queue to
// wait in.
func TestPutOfASmallFileIsThreeCalls(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "calls", member{"bob", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/first.txt", []byte("the organisation log is synced by now"))
	var v workspace.Version
	got := w.methodsOf(t, func() (err error) {
		v, err = av.Put(bg(), "/second.txt", bytes.NewReader([]byte("three calls")), nil)
		return err
	})
	want := []string{
		coffrev1.CoffreService_VaultRead_FullMethodName,
		coffrev1.CoffreService_PutBlock_FullMethodName,
		coffrev1.CoffreService_VaultAppend_FullMethodName,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("a put made the calls %v, want %v", got, want)
	}
	// The entry it kept without reading it back is the server's.
	if latest, ok := av.Log().Latest(v.Manifest.ID); !ok || latest.Version != v.Version {
		t.Fatalf("the put's version %d is not the vault's newest (%v, %v)", v.Version, latest.Version, ok)
	}
	if head := w.s.VaultHead(t, w.org, w.vault); !sameHead(head, av.Log().Head) {
		t.Fatalf("the server's vault head %d is not the writer's %d", head.Position, av.Log().Head.Position)
	}
	bv := w.open(t, "bob")
	if got := get(t, bv, "/second.txt"); string(got) != "three calls" {
		t.Fatalf("bob reads %q", got)
	}
}
