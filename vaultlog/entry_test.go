package vaultlog

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

func FuzzParseEntry(f *testing.F) {
	k, _ := crypto.GenerateSigningKey()
	good, _ := SignEntry(k, &Entry{OrganisationID: "o", VaultID: "v", Author: "a", Position: 1, KeyIndex: 1,
		Writes:    []Write{{ManifestID: "0123456789abcdef", Version: 1}, {ManifestID: "0123456789abcdef0123456789abcdef", Version: 2}},
		Manifests: []byte("x")})
	f.Add(good)
	old, _ := SignEntry(k, &Entry{OrganisationID: "o", VaultID: "v", Author: "a", Position: 1, KeyIndex: 1, Format: FormatSeparate,
		Writes: []Write{{ManifestID: "0123456789abcdef", Version: 1, Ciphertext: []byte("x")}}})
	f.Add(old)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if len(e.Writes) == 0 {
			t.Fatal("parsed an entry without writes")
		}
		again, err := SignEntry(k, e)
		if err != nil || len(again) == 0 {
			t.Fatalf("a parsed entry can't be encoded again: %v", err)
		}
	})
}

// TestEntryFormats: format 2 carries the manifests as one batch and ids
// of 32 hex digits raw, format 1 (written before) a ciphertext per write;
// both read back as they were written, and a mix of the two is refused.
func TestEntryFormats(t *testing.T) {
	k, _ := crypto.GenerateSigningKey()
	hexID, textID := "0123456789abcdef0123456789abcdef", "notes0123"
	writes := []Write{{ManifestID: hexID, Version: 3}, {ManifestID: textID, Version: 1}}
	data, err := SignEntry(k, testEntry(1, VaultGenesis("o", "v"), writes...))
	if err != nil {
		t.Fatal(err)
	}
	var signed coffrev1.SignedVaultEntry
	var body coffrev1.VaultEntry
	if proto.Unmarshal(data, &signed) != nil || proto.Unmarshal(signed.GetBody(), &body) != nil {
		t.Fatal("does not parse")
	}
	if w := body.GetWrites(); body.GetFormatVersion() != 2 || len(w[0].GetRawId()) != 16 || w[0].GetManifestId() != "" ||
		w[1].GetManifestId() != textID || w[1].GetRawId() != nil {
		t.Fatalf("format 2 written as %v", &body)
	}
	e, err := ParseEntry(data)
	if err != nil || e.Format != FormatVersion || e.Writes[0].ManifestID != hexID || e.Writes[1].ManifestID != textID || string(e.Manifests) != "batch" {
		t.Fatalf("format 2 read back as %+v, %v", e, err)
	}

	old := testEntry(1, VaultGenesis("o", "v"), Write{ManifestID: hexID, Version: 1, Ciphertext: []byte("sealed")})
	old.Format, old.Manifests = FormatSeparate, nil
	data, err = SignEntry(k, old)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ParseEntry(data); err != nil || e.Format != FormatSeparate || e.Writes[0].ManifestID != hexID || string(e.Writes[0].Ciphertext) != "sealed" {
		t.Fatalf("format 1 read back as %+v, %v", e, err)
	}

	sign := func(b *coffrev1.VaultEntry) []byte {
		body, _ := proto.MarshalOptions{Deterministic: true}.Marshal(b)
		out, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.SignedVaultEntry{Body: body, Signature: k.Sign(signatureContext, body)})
		return out
	}
	raw := make([]byte, 16)
	for name, b := range map[string]*coffrev1.VaultEntry{
		"format 1 with a batch":          {FormatVersion: 1, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{ManifestId: textID, Version: 1}}},
		"format 1 with a raw id":         {FormatVersion: 1, Writes: []*coffrev1.ManifestWrite{{RawId: raw, Version: 1}}},
		"format 2 without a batch":       {FormatVersion: 2, Writes: []*coffrev1.ManifestWrite{{ManifestId: textID, Version: 1}}},
		"format 2 with a write's own":    {FormatVersion: 2, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{ManifestId: textID, Version: 1, Ciphertext: []byte("y")}}},
		"format 2 with both ids":         {FormatVersion: 2, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{ManifestId: textID, RawId: raw, Version: 1}}},
		"format 2 with a hex id as text": {FormatVersion: 2, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{ManifestId: hexID, Version: 1}}},
		"format 2 with a short raw id":   {FormatVersion: 2, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{RawId: raw[:8], Version: 1}}},
		"format 2 with an id twice":      {FormatVersion: 2, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{RawId: raw, Version: 1}, {RawId: raw, Version: 1}}},
		"format 3":                       {FormatVersion: 3, Manifests: []byte("x"), Writes: []*coffrev1.ManifestWrite{{RawId: raw, Version: 1}}},
	} {
		if _, err := ParseEntry(sign(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}
