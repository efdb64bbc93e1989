package vaultlog

import (
	"errors"
	"testing"

	"github.com/coffre/coffre/crypto"
)

func FuzzParseEntry(f *testing.F) {
	k, _ := crypto.GenerateSigningKey()
	good, _ := SignEntry(k, &Entry{OrganisationID: "o", VaultID: "v", Author: "a", Position: 1, KeyIndex: 1,
		Writes: []Write{{ManifestID: "0123456789abcdef", Version: 1, Ciphertext: []byte("x")}}})
	f.Add(good)
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
