package crypto

import (
	"bytes"
	"errors"
	"testing"

	"filippo.io/age"
)

func TestPassphraseRoundTrip(t *testing.T) {
	pt := []byte("device signing key")
	ct, err := EncryptWithPassphrase([]byte("correct horse"), pt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ct, []byte("age-encryption.org/v1\n-> scrypt ")) {
		t.Fatalf("not a binary age scrypt file: %q", ct[:40])
	}
	// The test work factor is written into the file.
	if !bytes.Contains(ct[:100], []byte(" 10\n")) {
		t.Errorf("work factor 10 not in header %q", ct[:100])
	}
	got, err := DecryptWithPassphrase([]byte("correct horse"), ct)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("DecryptWithPassphrase: %q, %v", got, err)
	}
}

func TestPassphraseWrong(t *testing.T) {
	ct, _ := EncryptWithPassphrase([]byte("correct horse"), []byte("x"))
	if _, err := DecryptWithPassphrase([]byte("correct hors"), ct); err != ErrWrongPassphrase {
		t.Errorf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
	}
}

func TestPassphraseDamagedFile(t *testing.T) {
	pass := []byte("correct horse")
	ct, _ := EncryptWithPassphrase(pass, bytes.Repeat([]byte("x"), 100))

	// A file encrypted to a key, not a passphrase.
	id, _ := age.GenerateX25519Identity()
	var foreign bytes.Buffer
	w, _ := age.Encrypt(&foreign, id.Recipient())
	w.Write([]byte("x"))
	w.Close()

	cases := map[string][]byte{
		"empty":              nil,
		"garbage":            []byte("not an age file at all"),
		"truncated header":   ct[:30],
		"truncated payload":  ct[:len(ct)-10],
		"payload byte flip":  flipped(ct, len(ct)-1, 0),
		"not passphrase":     foreign.Bytes(),
		"work factor raised": bytes.Replace(ct, []byte(" 10\n"), []byte(" 30\n"), 1),
	}
	for name, b := range cases {
		_, err := DecryptWithPassphrase(pass, b)
		if err == nil || errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s: got %v, want an error other than ErrWrongPassphrase", name, err)
		}
	}
}

func TestPassphraseEmpty(t *testing.T) {
	if _, err := EncryptWithPassphrase(nil, []byte("x")); err == nil {
		t.Error("EncryptWithPassphrase accepted an empty passphrase")
	}
	ct, _ := EncryptWithPassphrase([]byte("p"), []byte("x"))
	if _, err := DecryptWithPassphrase([]byte{}, ct); err == nil || err == ErrWrongPassphrase {
		t.Errorf("empty passphrase: got %v", err)
	}
}
