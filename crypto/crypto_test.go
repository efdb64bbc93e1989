package crypto

import (
	"encoding/hex"
	"flag"
	"os"
	"testing"
)

// -update regenerates testdata/vectors.json and the committed fuzz seed
// corpora from the current code. Review the diff before committing it.
var update = flag.Bool("update", false, "regenerate known-answer vectors and fuzz seed corpora in testdata/")

func TestMain(m *testing.M) {
	// scrypt at the production cost takes 256 MiB and ~0.5 s per call; the
	// format is the same at any cost (restic does the same in its tests).
	ScryptWorkFactor = 10
	scryptMaxWorkFactor = 12
	os.Exit(m.Run())
}

// pattern returns n bytes start, start+1, ... so that vectors are readable.
func pattern(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// hexBytes is []byte that reads and writes as a hex string in JSON.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	*h = d
	return err
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flipped returns a copy of b with bit bit of byte i inverted.
func flipped(b []byte, i int, bit uint) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1 << bit
	return c
}

// region names a leading part of an encoding, for failure messages.
type region struct {
	name string
	end  int // exclusive
}

// regionOf names the part byte i of an n-byte ciphertext falls in: one of
// rs, else the 16-byte tag at the end, else the body.
func regionOf(rs []region, i, n int) string {
	for _, r := range rs {
		if i < r.end {
			return r.name
		}
	}
	if i >= n-16 {
		return "tag"
	}
	return "body"
}

// checkTamper flips every bit position 0 and 7 of every byte of ct, truncates
// it to every shorter length and appends a byte, and requires open to fail
// with exactly ErrDecrypt each time.
func checkTamper(t *testing.T, ct []byte, rs []region, open func([]byte) ([]byte, error)) {
	t.Helper()
	for i := range ct {
		for _, bit := range []uint{0, 7} {
			if pt, err := open(flipped(ct, i, bit)); err != ErrDecrypt {
				t.Fatalf("flipping bit %d of byte %d (%s): got %q, %v; want ErrDecrypt", bit, i, regionOf(rs, i, len(ct)), pt, err)
			}
		}
	}
	for n := 0; n < len(ct); n++ {
		if _, err := open(ct[:n]); err != ErrDecrypt {
			t.Fatalf("truncated to %d bytes: got %v, want ErrDecrypt", n, err)
		}
	}
	if _, err := open(append(ct[:len(ct):len(ct)], 0)); err != ErrDecrypt {
		t.Fatalf("extra trailing byte: got %v, want ErrDecrypt", err)
	}
}

// checkDowngrade rewrites the version and algorithm bytes to every other
// value and requires open to fail (SECURITY.md A17).
func checkDowngrade(t *testing.T, ct []byte, open func([]byte) ([]byte, error)) {
	t.Helper()
	for pos := 0; pos < 2; pos++ {
		for v := 0; v < 256; v++ {
			if byte(v) == ct[pos] {
				continue
			}
			c := append([]byte(nil), ct...)
			c[pos] = byte(v)
			if _, err := open(c); err != ErrDecrypt {
				t.Fatalf("header byte %d set to %#x: got %v, want ErrDecrypt", pos, v, err)
			}
		}
	}
}

func TestPassphraseWorkFactor(t *testing.T) {
	sealed, err := EncryptWithPassphrase([]byte("correct horse"), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if wf, ok := PassphraseWorkFactor(sealed); !ok || wf != ScryptWorkFactor {
		t.Fatalf("work factor %d, %v; want %d", wf, ok, ScryptWorkFactor)
	}
	for _, bad := range [][]byte{nil, []byte("age-encryption.org/v1\n-> X25519 abc\n--- mac\n"), sealed[:10]} {
		if wf, ok := PassphraseWorkFactor(bad); ok {
			t.Errorf("%q: work factor %d, want none", bad, wf)
		}
	}
}
