package certificate

import (
	"errors"
	"testing"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"google.golang.org/protobuf/proto"
)

// User key rotation (SPEC.md §15.2) has wire fields but no rules yet: until
// it is built, a certificate carrying it must not be accepted, or a client
// would take a statement it can't check.
func TestUserKeysRotatedRefusedUntilBuilt(t *testing.T) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.Certificate{
		FormatVersion:  FormatVersion,
		OrganisationId: "org",
		Author:         "device",
		Position:       3,
		Statement: &coffrev1.Certificate_UserKeysRotated{UserKeysRotated: &coffrev1.UserKeysRotatedStatement{
			UserId:        "user",
			SealPublicKey: []byte{2, 1, 2, 3},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.SignedCertificate{Body: body, Signature: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse(user_keys_rotated) = %v, want ErrMalformed", err)
	}
}
