// Package wire holds what client and server must agree on beyond the
// protobuf definitions: how a device signs each call (SPEC.md §6.1) and how
// domain errors travel as gRPC statuses (SPEC.md §6.3). Both sides use the
// same code, so they cannot drift apart.
package wire

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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

// NonceSize is the length of a request's random nonce.
const NonceSize = 16

var (
	// ErrBadRequestSignature is returned when the signature does not verify.
	ErrBadRequestSignature = errors.New("request signature does not verify")
	// ErrMalformedRequestSignature is returned by ParseRequestSignature for
	// metadata that lacks one of the keys, repeats one, or holds a value
	// that does not decode.
	ErrMalformedRequestSignature = errors.New("request signature metadata is missing or malformed")
)

// Message returns the bytes a device signs for one call: the method, the
// organisation, the device, the time, a random nonce and a digest of the
// request message in deterministic encoding. A request with a
// data_digest field (PutBlock), or with a list of blocks that each have
// one (PutBlocks), is encoded without its data: the signature covers each
// data's digest, which the caller sets (SetDataDigest) and the server
// checks against the data it received (Verify), so a block is hashed once
// on each side, not marshalled and hashed again.
func Message(method, org, device string, at time.Time, nonce []byte, req proto.Message) ([]byte, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(withoutData(req))
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixMilli()))
	bodyDigest := crypto.Sum(body)
	d := crypto.LabeledSum("request", []byte(method), []byte(org), []byte(device), ts[:], nonce, bodyDigest[:])
	return d[:], nil
}

// withoutData returns req with the data of each digested block left out:
// req itself (PutBlock) or the elements of its blocks list (PutBlocks).
// The copy shares every other value: nothing large is copied.
func withoutData(req proto.Message) proto.Message {
	if data, _ := digestFields(req); data != nil {
		if !req.ProtoReflect().Has(data) {
			return req
		}
		return copyWithout(req.ProtoReflect(), data).Interface()
	}
	blocks, data := blockList(req)
	if blocks == nil || !req.ProtoReflect().Has(blocks) {
		return req
	}
	m := req.ProtoReflect()
	signed := copyWithout(m, blocks)
	in := m.Get(blocks).List()
	out := signed.Mutable(blocks).List()
	for i := range in.Len() {
		out.Append(protoreflect.ValueOfMessage(copyWithout(in.Get(i).Message(), data)))
	}
	return signed.Interface()
}

// copyWithout returns a new message with m's fields but skip.
func copyWithout(m protoreflect.Message, skip protoreflect.FieldDescriptor) protoreflect.Message {
	c := m.New()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd != skip {
			c.Set(fd, v)
		}
		return true
	})
	return c
}

// Field names of a request whose signature covers a digest of its data
// rather than the data (SPEC.md §6.1).
const (
	dataField       = "data"
	dataDigestField = "data_digest"
	blocksField     = "blocks"
)

// digestFields returns req's data and data_digest fields, both bytes, or
// nils if it has not both.
func digestFields(req proto.Message) (data, digest protoreflect.FieldDescriptor) {
	fields := req.ProtoReflect().Descriptor().Fields()
	data, digest = fields.ByName(dataField), fields.ByName(dataDigestField)
	if data == nil || digest == nil || data.Kind() != protoreflect.BytesKind || digest.Kind() != protoreflect.BytesKind || data.IsList() || digest.IsList() {
		return nil, nil
	}
	return data, digest
}

// blockList returns req's blocks field, a list of messages with data and
// data_digest (PutBlocks), and the elements' data field; nils otherwise.
func blockList(req proto.Message) (blocks, data protoreflect.FieldDescriptor) {
	blocks = req.ProtoReflect().Descriptor().Fields().ByName(blocksField)
	if blocks == nil || !blocks.IsList() || blocks.Message() == nil {
		return nil, nil
	}
	elem := blocks.Message().Fields()
	data, digest := elem.ByName(dataField), elem.ByName(dataDigestField)
	if data == nil || digest == nil || data.Kind() != protoreflect.BytesKind || digest.Kind() != protoreflect.BytesKind || data.IsList() || digest.IsList() {
		return nil, nil
	}
	return blocks, data
}

// digested calls f with each message of req that has data and
// data_digest: req itself (PutBlock) or each of its blocks (PutBlocks).
func digested(req proto.Message, f func(m protoreflect.Message, data, digest protoreflect.FieldDescriptor) bool) bool {
	if data, digest := digestFields(req); data != nil {
		return f(req.ProtoReflect(), data, digest)
	}
	blocks, _ := blockList(req)
	if blocks == nil {
		return true
	}
	list := req.ProtoReflect().Get(blocks).List()
	for i := range list.Len() {
		m := list.Get(i).Message()
		data, digest := digestFields(m.Interface())
		if !f(m, data, digest) {
			return false
		}
	}
	return true
}

// SetDataDigest sets a request's data_digest to the SHA-256 of its data,
// if it has both fields (PutBlock), or each of its blocks' (PutBlocks),
// before it is signed.
func SetDataDigest(req proto.Message) {
	setDigests(req, true)
}

// setDigests sets the data_digest of each digested message of req; only
// those without one unless all.
func setDigests(req proto.Message, all bool) {
	digested(req, func(m protoreflect.Message, data, digest protoreflect.FieldDescriptor) bool {
		if all || !m.Has(digest) {
			d := crypto.Sum(m.Get(data).Bytes())
			m.Set(digest, protoreflect.ValueOfBytes(d[:]))
		}
		return true
	})
}

// dataMatchesDigest reports whether every digested message of a request
// carries data of its data_digest (true for a request without them).
func dataMatchesDigest(req proto.Message) bool {
	return digested(req, func(m protoreflect.Message, data, digest protoreflect.FieldDescriptor) bool {
		d := crypto.Sum(m.Get(data).Bytes())
		return subtle.ConstantTimeCompare(d[:], m.Get(digest).Bytes()) == 1
	})
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

// RequestSignature is what a device call carries in its metadata (SPEC.md
// §6.1): who signs, when, a nonce against replays, and the signature.
type RequestSignature struct {
	Organisation string
	Device       string
	Time         time.Time // to the millisecond, as it travels
	Nonce        []byte    // NonceSize random bytes
	Signature    []byte
}

// SignRequest signs a call to method carrying req, as device of org at time
// at with nonce, and returns the metadata to send with it. Every caller
// (client, tests) signs through it, so the keys and encodings are the
// server's.
//
// A request (or each block of one) with a data_digest field that is not
// set gets the digest of its data (SetDataDigest) before it is signed.
func SignRequest(key *crypto.SigningKey, method, org, device string, at time.Time, nonce []byte, req proto.Message) (metadata.MD, error) {
	setDigests(req, false)
	at = time.UnixMilli(at.UnixMilli())
	msg, err := Message(method, org, device, at, nonce, req)
	if err != nil {
		return nil, err
	}
	return RequestSignature{Organisation: org, Device: device, Time: at, Nonce: nonce, Signature: Sign(key, msg)}.Metadata(), nil
}

// SignOutgoing is SignRequest with the metadata added to ctx's outgoing
// metadata, as a client interceptor sends it.
func SignOutgoing(ctx context.Context, key *crypto.SigningKey, method, org, device string, at time.Time, nonce []byte, req proto.Message) (context.Context, error) {
	md, err := SignRequest(key, method, org, device, at, nonce, req)
	if err != nil {
		return nil, err
	}
	if out, ok := metadata.FromOutgoingContext(ctx); ok {
		md = metadata.Join(out, md)
	}
	return metadata.NewOutgoingContext(ctx, md), nil
}

// Metadata encodes r as metadata: the time in Unix milliseconds, the nonce
// and signature in unpadded base64url.
func (r RequestSignature) Metadata() metadata.MD {
	return metadata.Pairs(
		KeyOrganisation, r.Organisation,
		KeyDevice, r.Device,
		KeyTime, strconv.FormatInt(r.Time.UnixMilli(), 10),
		KeyNonce, base64.RawURLEncoding.EncodeToString(r.Nonce),
		KeySignature, base64.RawURLEncoding.EncodeToString(r.Signature),
	)
}

// HasRequestSignature reports whether md carries a signature at all: a
// call without one may be a token call.
func HasRequestSignature(md metadata.MD) bool { return len(md.Get(KeySignature)) > 0 }

// ParseRequestSignature reads a call's signature metadata. Each key must
// appear exactly once and decode; ErrMalformedRequestSignature otherwise.
// It does not check the signature: Verify does.
func ParseRequestSignature(md metadata.MD) (RequestSignature, error) {
	get := func(k string) string {
		if v := md.Get(k); len(v) == 1 {
			return v[0]
		}
		return ""
	}
	r := RequestSignature{Organisation: get(KeyOrganisation), Device: get(KeyDevice)}
	ms, err := strconv.ParseInt(get(KeyTime), 10, 64)
	if err != nil || r.Organisation == "" || r.Device == "" {
		return RequestSignature{}, ErrMalformedRequestSignature
	}
	r.Time = time.UnixMilli(ms)
	nonce, err1 := base64.RawURLEncoding.DecodeString(get(KeyNonce))
	sig, err2 := base64.RawURLEncoding.DecodeString(get(KeySignature))
	if err1 != nil || err2 != nil || len(nonce) != NonceSize || len(sig) == 0 {
		return RequestSignature{}, ErrMalformedRequestSignature
	}
	r.Nonce, r.Signature = nonce, sig
	return r, nil
}

// Verify checks that r signs a call to method carrying req with key
// (ErrBadRequestSignature otherwise).
func (r RequestSignature) Verify(key crypto.VerifyKey, method string, req proto.Message) error {
	msg, err := Message(method, r.Organisation, r.Device, r.Time, r.Nonce, req)
	if err != nil {
		return ErrBadRequestSignature
	}
	if err := Verify(key, msg, r.Signature); err != nil {
		return err
	}
	// The signature covers data_digest, not data: the data must match it.
	if !dataMatchesDigest(req) {
		return ErrBadRequestSignature
	}
	return nil
}
