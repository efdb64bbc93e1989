package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"testing"
)

// Known answers from FIPS-197 §4.2 (the AES field).
func TestFieldKnownAnswers(t *testing.T) {
	for _, c := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1}, {0x57, 0x13, 0xfe}, {0x53, 0xca, 0x01}, {0x00, 0x9a, 0x00}, {0x01, 0x9a, 0x9a},
	} {
		if got := mul(c.a, c.b); got != c.want {
			t.Errorf("mul(%#x, %#x) = %#x, want %#x", c.a, c.b, got, c.want)
		}
	}
	for a := 1; a < 256; a++ {
		if mul(byte(a), inverse(byte(a))) != 1 {
			t.Fatalf("inverse(%#x) is wrong", a)
		}
	}
}

// Any k of the n shares rebuild the secret, whichever k and in any order.
func TestAnyKSharesRecover(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	for n := 1; n <= 6; n++ {
		for k := 1; k <= n; k++ {
			shares, err := Split(secret, n, k, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			for mask := 0; mask < 1<<n; mask++ {
				var subset []Share
				for i := n - 1; i >= 0; i-- {
					if mask&(1<<i) != 0 {
						subset = append(subset, shares[i])
					}
				}
				got, err := Combine(subset)
				if len(subset) == 0 {
					if !errors.Is(err, ErrBadShares) {
						t.Fatalf("no shares: err %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(subset) >= k && !bytes.Equal(got, secret) {
					t.Fatalf("n=%d k=%d mask=%b: %d shares did not rebuild the secret", n, k, mask, len(subset))
				}
				if len(subset) < k && bytes.Equal(got, secret) {
					t.Fatalf("n=%d k=%d mask=%b: %d shares (below the threshold) rebuilt a 32-byte secret", n, k, mask, len(subset))
				}
			}
		}
	}
}

// K−1 shares give no information: for every observed value of k−1 shares,
// each of the 256 secret byte values is produced by exactly as many choices
// of the random coefficients (one for k=2, 256 for k=3 with one share fixed,
// ...). Exhaustive over the coefficients for k = 2 and 3.
func TestBelowThresholdSharesAreConsistentWithEverySecret(t *testing.T) {
	for _, k := range []int{2, 3} {
		xs := []byte{3, 200}[:k-1]
		observed := []byte{0x5a, 0xc3}[:k-1]
		coeffs := make([]byte, k)
		for s := 0; s < 256; s++ {
			coeffs[0] = byte(s)
			count := 0
			total := 1 << (8 * (k - 1))
			for r := 0; r < total; r++ {
				for j := 1; j < k; j++ {
					coeffs[j] = byte(r >> (8 * (j - 1)))
				}
				match := true
				for i, x := range xs {
					if evaluate(coeffs, x) != observed[i] {
						match = false
						break
					}
				}
				if match {
					count++
				}
			}
			if count != 1 {
				t.Fatalf("k=%d: secret byte %#x is produced by %d coefficient choices, want 1", k, s, count)
			}
		}
	}
}

func TestSplitRefusesBadParameters(t *testing.T) {
	for _, c := range []struct {
		secret []byte
		n, k   int
	}{{nil, 3, 2}, {[]byte{1}, 3, 0}, {[]byte{1}, 2, 3}, {[]byte{1}, 256, 2}, {[]byte{1}, 0, 0}} {
		if _, err := Split(c.secret, c.n, c.k, rand.Reader); !errors.Is(err, ErrBadParameters) {
			t.Errorf("Split(len %d, n=%d, k=%d): err %v, want ErrBadParameters", len(c.secret), c.n, c.k, err)
		}
	}
}

func TestCombineRefusesBadShares(t *testing.T) {
	for name, shares := range map[string][]Share{
		"zero x":         {{X: 0, Y: []byte{1}}, {X: 1, Y: []byte{2}}},
		"repeated x":     {{X: 1, Y: []byte{1}}, {X: 1, Y: []byte{2}}},
		"lengths differ": {{X: 1, Y: []byte{1}}, {X: 2, Y: []byte{2, 3}}},
		"empty y":        {{X: 1}},
	} {
		if _, err := Combine(shares); !errors.Is(err, ErrBadShares) {
			t.Errorf("%s: err %v, want ErrBadShares", name, err)
		}
	}
}

func TestShareHidesItsBytes(t *testing.T) {
	s := Share{X: 1, Y: []byte("secret-bytes")}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); bytes.Contains([]byte(out), []byte("secret")) {
			t.Errorf("%s prints %q", f, out)
		}
	}
}

func FuzzSplitCombine(f *testing.F) {
	f.Add([]byte("recovery secret"), uint8(5), uint8(3), uint64(1))
	f.Add([]byte{0}, uint8(1), uint8(1), uint64(2))
	f.Fuzz(func(t *testing.T, secret []byte, n, k uint8, seed uint64) {
		shares, err := Split(secret, int(n), int(k), mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
		if err != nil {
			if len(secret) > 0 && k >= 1 && k <= n {
				t.Fatalf("Split refused valid parameters: %v", err)
			}
			return
		}
		r := mrand.New(mrand.NewPCG(seed, 0))
		r.Shuffle(len(shares), func(i, j int) { shares[i], shares[j] = shares[j], shares[i] })
		got, err := Combine(shares[:k])
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("k=%d of n=%d shares: %x, %v; want %x", k, n, got, err, secret)
		}
	})
}

func FuzzCombine(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{2, 4, 5})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) == 0 || len(b) == 0 {
			return
		}
		// Must not panic on any input.
		Combine([]Share{{X: a[0], Y: a[1:]}, {X: b[0], Y: b[1:]}})
	})
}
