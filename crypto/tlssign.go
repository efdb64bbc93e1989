package crypto

import (
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
)

// SignWithTLSKey signs msg in the named context (the signed bytes of
// SPEC.md §2.2) with the private key of the server's TLS certificate, so
// that what the server states is attributable to the key clients already
// authenticate it by. ECDSA and RSA keys sign SHA-256 of the signed bytes
// (ASN.1 ECDSA, PKCS #1 v1.5); Ed25519 signs them whole.
func SignWithTLSKey(key gocrypto.Signer, context string, msg []byte) ([]byte, error) {
	m := append([]byte(mustDomain(sigPrefix, context)), msg...)
	switch key.Public().(type) {
	case ed25519.PublicKey:
		return key.Sign(rand.Reader, m, gocrypto.Hash(0))
	case *ecdsa.PublicKey, *rsa.PublicKey:
		d := sha256.Sum256(m)
		return key.Sign(rand.Reader, d[:], gocrypto.SHA256)
	}
	return nil, fmt.Errorf("TLS key of type %T can't sign statements", key.Public())
}

// VerifyWithTLSCertificate checks a signature made by SignWithTLSKey with
// the key of cert. Any failure is ErrBadSignature.
func VerifyWithTLSCertificate(cert *x509.Certificate, context string, msg, sig []byte) error {
	d, ok := domain(sigPrefix, context)
	if !ok {
		return ErrBadSignature
	}
	var alg x509.SignatureAlgorithm
	switch cert.PublicKey.(type) {
	case ed25519.PublicKey:
		alg = x509.PureEd25519
	case *ecdsa.PublicKey:
		alg = x509.ECDSAWithSHA256
	case *rsa.PublicKey:
		alg = x509.SHA256WithRSA
	default:
		return ErrBadSignature
	}
	if cert.CheckSignature(alg, append([]byte(d), msg...), sig) != nil {
		return ErrBadSignature
	}
	return nil
}
