package crypto

import (
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// TestTLSKeySignatures: a statement signed with a TLS certificate's key
// (each key type a server may run with) verifies with that certificate,
// and not in another context, over other bytes, or with another key.
func TestTLSKeySignatures(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certOf := func(key gocrypto.Signer) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	for name, key := range map[string]gocrypto.Signer{"ecdsa": ec, "ed25519": ed, "rsa": rs} {
		t.Run(name, func(t *testing.T) {
			msg := []byte("heads")
			sig, err := SignWithTLSKey(key, "server-head", msg)
			if err != nil {
				t.Fatal(err)
			}
			cert := certOf(key)
			if err := VerifyWithTLSCertificate(cert, "server-head", msg, sig); err != nil {
				t.Fatalf("does not verify: %v", err)
			}
			for what, err := range map[string]error{
				"another context":  VerifyWithTLSCertificate(cert, "certificate", msg, sig),
				"other bytes":      VerifyWithTLSCertificate(cert, "server-head", []byte("heads!"), sig),
				"another key":      VerifyWithTLSCertificate(certOf(other), "server-head", msg, sig),
				"a truncated sig":  VerifyWithTLSCertificate(cert, "server-head", msg, sig[:len(sig)-1]),
				"a context w/ NUL": VerifyWithTLSCertificate(cert, "server-head\x00", msg, sig),
			} {
				if !errors.Is(err, ErrBadSignature) {
					t.Errorf("%s: %v, want %v", what, err, ErrBadSignature)
				}
			}
		})
	}
}
