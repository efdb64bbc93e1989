package crypto

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"
)

// TestSealKeyCheckIsCirclsUnpack: ParseSealPublicKey accepts exactly the
// keys circl's X-Wing Unpack accepts (FIPS 203 §7.2 check 2): real keys,
// and keys with one coefficient set to each value around q = 3329 at
// either place of a three-byte pair, anywhere in t̂.
func TestSealKeyCheckIsCirclsUnpack(t *testing.T) {
	k, err := GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	good := k.Public().Bytes()
	rnd := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for n := range 4000 {
		b := bytes.Clone(good)
		i := 1 + 3*rnd.IntN(384) // a pair of coefficients of t̂, after the algorithm byte
		v := uint16(3320 + n%20) // 3320 … 3339: below, at and above q
		if n%2 == 0 {
			b[i], b[i+1] = byte(v), b[i+1]&0xf0|byte(v>>8)
		} else {
			b[i+1], b[i+2] = b[i+1]&0x0f|byte(v<<4), byte(v>>4)
		}
		var pk xwing.PublicKey
		circl := pk.Unpack(b[1:]) == nil
		_, err := ParseSealPublicKey(b)
		if mine := err == nil; mine != circl {
			t.Fatalf("coefficient %d at byte %d: ParseSealPublicKey accepts %v, circl %v", v, i, mine, circl)
		}
		if err != nil {
			refused++
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("a refused key: %v, want ErrMalformed", err)
			}
		}
	}
	if refused == 0 {
		t.Fatal("no key was refused: the test changes nothing")
	}
	if _, err := ParseSealPublicKey(good); err != nil {
		t.Fatalf("a real key: %v", err)
	}
}
