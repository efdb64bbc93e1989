package synctest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBasicTwoWay is the harness's smoke test: a file and a folder made on
// one device arrive on the other, an edit goes back.
func TestBasicTwoWay(t *testing.T) {
	t.Parallel()
	w := newHostileWorld(t, devSpec{"alice", "alice", "alice-laptop"}, devSpec{"bob", "bob", "bob-laptop"})
	a, b := w.engine(t, "alice"), w.engine(t, "bob")
	os.MkdirAll(filepath.Join(a.dir, "docs", "deep"), 0o755)
	os.WriteFile(filepath.Join(a.dir, "docs", "deep", "x.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(a.dir, "empty"), nil, 0o644)
	t.Logf("a: %+v", a.mustCycle(t))
	t.Logf("b: %+v", b.mustCycle(t))
	if d := diffTrees(readTree(t, a.dir), readTree(t, b.dir), "alice", "bob"); d != "" {
		t.Fatalf("trees differ:\n%s", d)
	}
	os.WriteFile(filepath.Join(b.dir, "docs", "deep", "x.txt"), []byte("hello, edited"), 0o644)
	t.Logf("b: %+v", b.mustCycle(t))
	t.Logf("a: %+v", a.mustCycle(t))
	if d := diffTrees(readTree(t, a.dir), readTree(t, b.dir), "alice", "bob"); d != "" {
		t.Fatalf("trees differ:\n%s", d)
	}
}
