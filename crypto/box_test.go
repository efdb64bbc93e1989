package crypto

import (
	"bytes"
	"strings"
	"testing"
)

var boxRegions = []region{{"header", 2}, {"nonce", 2 + 24}}

// channelPair returns the greeter's and the claimer's ends of one channel.
func channelPair(t *testing.T, transcript []byte) (greeter, claimer *Channel) {
	t.Helper()
	g, err := GenerateBoxKey()
	if err != nil {
		t.Fatal(err)
	}
	c, err := GenerateBoxKey()
	if err != nil {
		t.Fatal(err)
	}
	greeter, err = g.NewChannel(c.Public(), transcript)
	if err != nil {
		t.Fatal(err)
	}
	claimer, err = c.NewChannel(g.Public(), transcript)
	if err != nil {
		t.Fatal(err)
	}
	return greeter, claimer
}

func TestChannelSealOpen(t *testing.T) {
	greeter, claimer := channelPair(t, []byte("transcript"))
	msg := []byte("claimer's public keys")
	b := claimer.Seal(msg)
	if len(b) != 2+24+16+len(msg) || b[0] != FormatVersion || b[1] != AlgBox {
		t.Fatalf("encoding: len %d, header %x", len(b), b[:2])
	}
	if got, err := greeter.Open(b); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("greeter Open: %q, %v", got, err)
	}
	back := greeter.Seal([]byte("signed certificate"))
	if got, err := claimer.Open(back); err != nil || string(got) != "signed certificate" {
		t.Fatalf("claimer Open: %q, %v", got, err)
	}
	// A message must not be accepted by its own sender (reflection).
	if _, err := claimer.Open(b); err != ErrDecrypt {
		t.Errorf("sender opened its own message: %v", err)
	}
	if bytes.Equal(claimer.Seal(msg), b) {
		t.Error("two seals of the same message are identical")
	}
	stranger, _ := channelPair(t, []byte("transcript"))
	if _, err := stranger.Open(b); err != ErrDecrypt {
		t.Errorf("another channel opened the message: %v", err)
	}
	checkTamper(t, b, boxRegions, greeter.Open)
	checkDowngrade(t, b, greeter.Open)
}

func TestChannelCodes(t *testing.T) {
	greeter, claimer := channelPair(t, []byte("commitment|nonce"))
	g1, c1 := greeter.Codes()
	g2, c2 := claimer.Codes()
	if g1 != g2 || c1 != c2 {
		t.Fatalf("sides disagree: greeter sees %s/%s, claimer sees %s/%s", g1, c1, g2, c2)
	}
	for _, code := range []string{g1, c1} {
		if len(code) != 4 || strings.Trim(code, sasAlphabet) != "" {
			t.Errorf("code %q is not 4 characters of the alphabet", code)
		}
	}

	// A different transcript, or a different key pair, changes the codes.
	// With 40 bits a collision by chance has probability 2^-40.
	g, c := greeter.Codes()
	other, _ := channelPair(t, []byte("commitment|nonce"))
	og, oc := other.Codes()
	if og+oc == g+c {
		t.Error("different channels give the same codes")
	}
	gk, _ := GenerateBoxKey()
	ck, _ := GenerateBoxKey()
	a, _ := gk.NewChannel(ck.Public(), []byte("t1"))
	b, _ := gk.NewChannel(ck.Public(), []byte("t2"))
	ag, ac := a.Codes()
	bg, bc := b.Codes()
	if ag+ac == bg+bc {
		t.Error("different transcripts give the same codes")
	}
}

func TestSASCode(t *testing.T) {
	// 20 bits 00000 00001 11110 11111 -> A, B, 8, 9.
	if got := sasCode(0b00000_00001_11110_11111); got != "AB89" {
		t.Errorf("sasCode = %q, want AB89", got)
	}
	// Only the low 20 bits count.
	if got := sasCode(1<<20 | 1); got != "AAAB" {
		t.Errorf("sasCode = %q, want AAAB", got)
	}
	if len(sasAlphabet) != 32 || strings.ContainsAny(sasAlphabet, "01IO") {
		t.Errorf("alphabet %q", sasAlphabet)
	}
}

func TestNewChannelRejectsLowOrderPeer(t *testing.T) {
	k, _ := GenerateBoxKey()
	// The all-zero point and the order-8 point from RFC 7748 §6.1 / libsodium's
	// blocklist both make X25519 return all zeroes.
	lowOrder := [][32]byte{
		{},
		{1},
		[32]byte(mustHex(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")),
	}
	for _, p := range lowOrder {
		if _, err := k.NewChannel(p, nil); err == nil {
			t.Errorf("NewChannel accepted low-order peer %x", p)
		}
	}
}
