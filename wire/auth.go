// Package wire holds what client and server must agree on beyond the
// protobuf definitions: how a device signs each call (SPEC.md §6.1) and how
// domain errors travel as gRPC statuses (SPEC.md §6.3). Both sides use the
// same code, so they cannot drift apart.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
)

// Metadata keys carried by every device call.
const (
	KeyOrganisation = "coffre-organisation"
	KeyDevice       = "coffre-device"
	KeyTime         = "coffre-time"
	KeyNonce        = "coffre-nonce"
	KeySignature    = "coffre-signature"
)

// signatureContext is the signing context of requests (SPEC.md §2.2).
const signatureContext = "request"

// HeadContext is the signing context of the server's head statements,
// signed with its TLS key (SPEC.md §2.2, §4.4).
const HeadContext = "server-head"

// MaxSkew is how far a request's time may be from the server's clock.
const MaxSkew = 5 * time.Minute

// ErrBadRequestSignature is returned when the signature does not verify.
var ErrBadRequestSignature = errors.New("request signature does not verify")

// Message returns the bytes a device signs for one call: the method, the
// organisation, the device, the time, a random nonce and a digest of the
// request message in deterministic encoding.
func Message(method, org, device string, at time.Time, nonce []byte, req proto.Message) ([]byte, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixMilli()))
	bodyDigest := crypto.Sum(body)
	d := crypto.LabeledSum("request", []byte(method), []byte(org), []byte(device), ts[:], nonce, bodyDigest[:])
	return d[:], nil
}

// Sign signs a call.
func Sign(key *crypto.SigningKey, msg []byte) []byte { return key.Sign(signatureContext, msg) }

// Verify checks a call's signature.
func Verify(key crypto.VerifyKey, msg, sig []byte) error {
	if err := key.Verify(signatureContext, msg, sig); err != nil {
		return ErrBadRequestSignature
	}
	return nil
}
