// Package adversarial is coffre's adversarial suite (docs/SECURITY.md,
// "Attack catalogue"): each test plays the server — rewriting its answers,
// editing, snapshotting and restoring its store — against the real client,
// and checks that the client (a) fails with a specific typed error, (b)
// hands no tampered data to the caller, (c) wraps no key to the attacker
// and (d) does not advance its verified state, on disk included.
package adversarial

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

func bg() context.Context { return context.Background() }

// dirs returns fresh data directories for devices.
func dirs(t *testing.T, names ...string) map[string]string {
	base := t.TempDir()
	out := map[string]string{}
	for _, n := range names {
		out[n] = filepath.Join(base, n)
	}
	return out
}

func mustSync(t *testing.T, s *client.Session) {
	t.Helper()
	if err := s.Sync(bg()); err != nil {
		t.Fatalf("honest sync: %v", err)
	}
}

func sameHead(a, b certificate.Head) bool {
	return a.Position == b.Position && bytes.Equal(a.Hash, b.Hash)
}

// unchanged checks the session's verified head is still want, then closes
// it and checks that the device reopened from disk has the same head: its
// trusted state did not advance. It returns the reopened session.
func unchanged(t *testing.T, s *client.Session, dir string, want certificate.Head) *client.Session {
	t.Helper()
	if got := s.Head(); !sameHead(got, want) {
		t.Errorf("verified head moved: %d %x, want %d %x", got.Position, got.Hash, want.Position, want.Hash)
	}
	r := hostile.Reopen(t, s, dir)
	if got := r.Head(); !sameHead(got, want) {
		t.Errorf("head on disk moved: %d %x, want %d %x", got.Position, got.Hash, want.Position, want.Hash)
	}
	return r
}

// wantErr checks errors.Is(err, target).
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// causeText is how each certificate error shows in a message.
var causeText = map[error]string{
	certificate.ErrSignature: certificate.ErrSignature.Error(),
	certificate.ErrMalformed: certificate.ErrMalformed.Error(),
	certificate.ErrChain:     certificate.ErrChain.Error(),
	certificate.ErrRule:      "certificate at position ", // *RuleError's message
}

var knownBugOnce sync.Once

// wantCause checks that err was caused by cause (certificate.ErrRule,
// ErrSignature, ErrMalformed…). SPEC.md §4.3 says ErrBadLog wraps the
// cause; client.Session.Sync formats it with %v, so errors.Is can't see
// it (reported as a bug, see TestBadLogWrapsCause). Until it is fixed, the
// cause is recognised by its message.
func wantCause(t *testing.T, err, cause error) {
	t.Helper()
	if errors.Is(err, cause) {
		return
	}
	if err != nil && strings.Contains(err.Error(), causeText[cause]) {
		knownBugOnce.Do(func() { t.Log("known bug: client.ErrBadLog does not wrap its cause (client/session.go Sync)") })
		return
	}
	t.Fatalf("error %v is not caused by %v", err, cause)
}

// --- playing the server: GetLog answers -----------------------------------

// serveExtra makes the server's GetLog answers end with extra entries after
// its real head (positions head+1…), as if they were in its log.
func serveExtra(s *hostile.Server, extra ...[]byte) {
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil {
			return resp, err
		}
		r, from := resp.(*coffrev1.GetLogResponse), req.(*coffrev1.GetLogRequest).GetFrom()
		head := r.HeadPosition
		for i, data := range extra {
			if pos := head + uint64(i) + 1; pos >= from {
				r.Entries = append(r.Entries, &coffrev1.LogEntry{Position: pos, Data: data})
			}
		}
		r.HeadPosition = head + uint64(len(extra))
		return r, nil
	})
}

// serveReplaced makes the server's GetLog answers carry other bytes at
// some positions.
func serveReplaced(s *hostile.Server, replace map[uint64][]byte) {
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil {
			return resp, err
		}
		for _, e := range resp.(*coffrev1.GetLogResponse).Entries {
			if data, ok := replace[e.Position]; ok {
				e.Data = data
			}
		}
		return resp, nil
	})
}

// --- forging certificates ---------------------------------------------------

func newSigningKey(t *testing.T) *crypto.SigningKey {
	k, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealKey(t *testing.T) *crypto.SealKey {
	k, err := crypto.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// signBody encodes and signs a certificate body as an author would
// (SPEC.md §3.1), whatever it holds.
func signBody(t *testing.T, key *crypto.SigningKey, body *coffrev1.Certificate) []byte {
	t.Helper()
	b, err := deterministic.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return signBytes(t, key, b)
}

func signBytes(t *testing.T, key *crypto.SigningKey, body []byte) []byte {
	t.Helper()
	out, err := deterministic.Marshal(&coffrev1.SignedCertificate{Body: body, Signature: key.Sign("certificate", body)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// parseCert decodes entry bytes into the signed wrapper and its body.
func parseCert(t *testing.T, data []byte) (*coffrev1.SignedCertificate, *coffrev1.Certificate) {
	t.Helper()
	var signed coffrev1.SignedCertificate
	var body coffrev1.Certificate
	if err := proto.Unmarshal(data, &signed); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(signed.Body, &body); err != nil {
		t.Fatal(err)
	}
	return &signed, &body
}

// mutate changes a certificate's body and signs it again with key, or
// keeps the original signature when key is nil.
func mutate(t *testing.T, data []byte, key *crypto.SigningKey, change func(*coffrev1.Certificate)) []byte {
	t.Helper()
	signed, body := parseCert(t, data)
	change(body)
	if key != nil {
		return signBody(t, key, body)
	}
	b, err := deterministic.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := deterministic.Marshal(&coffrev1.SignedCertificate{Body: b, Signature: signed.Signature})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signNext signs statements at the head of org (a verified state) as a
// device, now.
func signNext(t *testing.T, org *certificate.Organisation, key *crypto.SigningKey, author string, stmts ...certificate.Statement) [][]byte {
	t.Helper()
	certs, err := org.SignNext(key, author, time.Now(), stmts...)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// headOf returns the head of the server's stored log.
func headOf(t *testing.T, s *hostile.Server, orgID string) uint64 {
	t.Helper()
	h, err := s.Store().LogHead(bg(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	return h.Position
}

// TestBadLogWrapsCause: SPEC.md §4.3 step 4 says a log failure other than
// a fork "is reported as ErrBadLog wrapping the cause", so that callers
// (and 'coffre status') can tell a forged signature from a broken rule
// with errors.Is.
func TestBadLogWrapsCause(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	admin := hostile.Bootstrap(t, s, t.TempDir())
	state := s.LogState(t, admin.Identity().OrganisationID)
	attacker := newSigningKey(t)
	serveExtra(s, signNext(t, state, attacker, "", certificate.ProfileChanged{UserID: certificate.NewID(), Profile: certificate.ProfileAdmin})...)
	err := admin.Sync(bg())
	if !errors.Is(err, client.ErrBadLog) || !errors.Is(err, certificate.ErrRule) {
		t.Fatalf("%v: want ErrBadLog wrapping certificate.ErrRule", err)
	}
	var rule *certificate.RuleError
	if !errors.As(err, &rule) || rule.Position != state.Head.Position+1 {
		t.Fatalf("%v: want the *RuleError at position %d", err, state.Head.Position+1)
	}
}
