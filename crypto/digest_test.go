package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestSum(t *testing.T) {
	// FIPS 180-2 "abc".
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := Sum([]byte("abc")); hex.EncodeToString(got[:]) != want {
		t.Errorf("Sum(abc) = %x", got)
	}
	h := NewHash()
	h.Write([]byte("a"))
	h.Write([]byte("bc"))
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("streaming Sum(abc) = %s", got)
	}
}

func TestLabeledSum(t *testing.T) {
	// The documented construction, written out by hand.
	manual := sha256.Sum256([]byte("coffre/v1/chain\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x02ab" +
		"\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x01c"))
	if got := LabeledSum("chain", []byte("ab"), nil, []byte("c")); got != Digest(manual) {
		t.Errorf("LabeledSum = %x, want %x", got, manual)
	}

	// Inputs that concatenate to the same bytes must not collide.
	distinct := []Digest{
		LabeledSum("chain", []byte("ab"), []byte("c")),
		LabeledSum("chain", []byte("a"), []byte("bc")),
		LabeledSum("chain", []byte("abc")),
		LabeledSum("chain", []byte("abc"), nil),
		LabeledSum("chain"),
		LabeledSum("chai", []byte("n")),
		LabeledSum("commit", []byte("ab"), []byte("c")),
	}
	seen := map[Digest]int{}
	for i, d := range distinct {
		if j, ok := seen[d]; ok {
			t.Errorf("inputs %d and %d collide", j, i)
		}
		seen[d] = i
	}
}

func TestRandomBytes(t *testing.T) {
	a, b := RandomBytes(32), RandomBytes(32)
	if len(a) != 32 || len(RandomBytes(0)) != 0 {
		t.Fatal("wrong length")
	}
	if Equal(a, b) {
		t.Error("two random reads are equal")
	}
}

func TestEqual(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
	} {
		if got := Equal([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("Equal(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func BenchmarkSum1MiB(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Sum(buf)
	}
}
