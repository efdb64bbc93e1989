package certificate

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// checkSignedParts: where signedParts reads data, proto reads the same
// body and signature and finds data canonical; where it does not, Parse
// refuses what proto's reading (parseSigned) refuses.
func checkSignedParts(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	body, sig, ok := signedParts(data)
	pbody, psig, perr := parseSigned(data)
	if ok && (perr != nil || !bytes.Equal(body, pbody) || !bytes.Equal(sig, psig)) {
		t.Fatalf("signedParts reads %x as body %x, signature %x; proto: %x, %x, %v", data, body, sig, pbody, psig, perr)
	}
	if _, err := Parse(data); !ok && perr != nil && err == nil {
		t.Fatalf("Parse(%x) accepts what proto's reading refuses (%v)", data, perr)
	}
	return ok
}

func TestSignedPartsReadsWhatProtoReads(t *testing.T) {
	f := newFixture(t)
	cert := f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: NewID()})[0]
	body, sig, ok := signedParts(cert)
	if !ok {
		t.Fatal("signedParts does not read what Sign writes")
	}
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
	}
	nonMinimal := append([]byte{0x0a, byte(len(body)) | 0x80, 0x00}, body...) // valid only if len(body) < 128
	if len(body) >= 128 {
		nonMinimal = append([]byte{0x0a, byte(len(body)) | 0x80, byte(len(body)>>7) | 0x80, 0x00}, body...)
	}
	cases := map[string]struct {
		data []byte
		fast bool
	}{
		"as signed":               {cert, true},
		"fields swapped":          {field(field(nil, 2, sig), 1, body), false},
		"an unknown field after":  {field(cert, 9, []byte("x")), false},
		"an identity opening":     {field(cert, 3, []byte("opening")), false},
		"an empty signature":      {field(field(nil, 1, body), 2, nil), false},
		"no signature":            {field(nil, 1, body), false},
		"a body length too long":  {append(nonMinimal, field(nil, 2, sig)...), false},
		"truncated":               {cert[:len(cert)-1], false},
		"a byte more":             {append(bytes.Clone(cert), 0), false},
		"the signature twice":     {field(cert, 2, sig), false},
		"empty":                   {nil, false},
		"a length beyond the end": {[]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, false},
	}
	for name, c := range cases {
		if got := checkSignedParts(t, c.data); got != c.fast {
			t.Errorf("%s: signedParts reads it: %v, want %v", name, got, c.fast)
		}
	}
	// What Parse makes of the certificate is what it made before.
	c, err := Parse(cert)
	if err != nil || !bytes.Equal(c.body, body) || !bytes.Equal(c.signature, sig) || c.verify(f.admin.key.Public()) != nil {
		t.Fatalf("Parse: %v", err)
	}
	if opened, opening, err := SplitIdentity(cert); err != nil || opening != nil || !bytes.Equal(opened, cert) {
		t.Fatalf("SplitIdentity of a certificate without an opening: %x, %x, %v", opened, opening, err)
	}
}

func FuzzSignedParts(f *testing.F) {
	f.Add([]byte{0x0a, 0x01, 0x00, 0x12, 0x01, 0x00})
	f.Add([]byte{0x0a, 0x81, 0x00, 0x00, 0x12, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) { checkSignedParts(t, data) })
}

// TestParseRefusesUnknownFields: a genuine certificate with a field
// appended beside its signature (which the signature does not cover) is
// refused, alone or in a log entry with an identity opening: else a
// server could give one certificate a second entry hash, and a device a
// false fork alarm. Proto keeps unknown fields and writes them back, so
// the canonical-form check alone let it through.
func TestParseRefusesUnknownFields(t *testing.T) {
	f := newFixture(t)
	cert := f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: NewID()})[0]
	extra := protowire.AppendBytes(protowire.AppendTag(bytes.Clone(cert), 9, protowire.BytesType), []byte("x"))
	if _, err := Parse(extra); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse of a certificate with an unknown field: %v, want ErrMalformed", err)
	}
	entry, err := WithIdentity(extra, []byte("opening"))
	if err != nil {
		t.Fatal(err)
	}
	split, opening, err := SplitIdentity(entry)
	if err != nil || string(opening) != "opening" {
		t.Fatalf("SplitIdentity: %q, %v", opening, err)
	}
	if _, err := Parse(split); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse of an entry's certificate with an unknown field: %v, want ErrMalformed", err)
	}
	if _, err := Parse(cert); err != nil {
		t.Fatalf("Parse of the certificate as signed: %v", err)
	}
}
