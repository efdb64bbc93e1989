package hostile

import (
	gocrypto "crypto"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// SignHead signs a head statement with the server's own TLS key, as a
// lying server can (SPEC.md §4.4): whatever heads and time it names.
func (s *Server) SignHead(t testing.TB, st *coffrev1.HeadStatement) *coffrev1.GetHeadResponse {
	t.Helper()
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.SignWithTLSKey(s.cert.PrivateKey.(gocrypto.Signer), wire.HeadContext, body)
	if err != nil {
		t.Fatal(err)
	}
	return &coffrev1.GetHeadResponse{Statement: body, Signature: sig, Certificate: s.cert.Certificate[0]}
}
