package workspace

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func chunks(t *testing.T, secret, data []byte) [][]byte {
	t.Helper()
	c := NewChunker(secret, bytes.NewReader(data))
	var out [][]byte
	for {
		b, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed)}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestChunkerCutsByContent(t *testing.T) {
	secret := []byte("vault secret")
	data := randomBytes(1, 24<<20)
	a := chunks(t, secret, data)
	if !bytes.Equal(bytes.Join(a, nil), data) {
		t.Fatal("chunks don't add up to the data")
	}
	for i, c := range a {
		if len(c) > MaxChunk || (len(c) < MinChunk && i != len(a)-1) {
			t.Fatalf("chunk %d has %d bytes", i, len(c))
		}
	}
	if avg := len(data) / len(a); avg < AvgChunk/2 || avg > 2*AvgChunk {
		t.Fatalf("average chunk %d bytes, want about %d", avg, AvgChunk)
	}
	// Inserting bytes near the start changes only the chunks around it.
	edited := append(append(append([]byte(nil), data[:3<<20]...), []byte("a small edit")...), data[3<<20:]...)
	b := chunks(t, secret, edited)
	same := map[string]bool{}
	for _, c := range a {
		same[string(c)] = true
	}
	changed := 0
	for _, c := range b {
		if !same[string(c)] {
			changed++
		}
	}
	if changed > 2 {
		t.Fatalf("a 12-byte insertion changed %d of %d chunks", changed, len(b))
	}
	// Another vault's secret cuts elsewhere.
	other := chunks(t, []byte("another vault"), data)
	if len(other) > 1 && len(a) > 1 && len(other[0]) == len(a[0]) && len(other[1]) == len(a[1]) {
		t.Fatal("two secrets gave the same boundaries")
	}
}

func TestChunkerSmallAndEmpty(t *testing.T) {
	if c := chunks(t, nil, nil); len(c) != 0 {
		t.Fatalf("empty input gave %d chunks", len(c))
	}
	small := randomBytes(2, 1000)
	if c := chunks(t, nil, small); len(c) != 1 || !bytes.Equal(c[0], small) {
		t.Fatal("a small input must be one chunk")
	}
}
