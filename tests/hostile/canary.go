package hostile

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// CanaryForms are the forms of a canary a careless encoder could store:
// raw, lowercased, hex, UTF-16 and base64 at each alignment (SECURITY.md
// A23, A37).
func CanaryForms(canary string) map[string][]byte {
	out := map[string][]byte{
		"raw":       []byte(canary),
		"hex":       []byte(fmt.Sprintf("%x", canary)),
		"HEX":       []byte(fmt.Sprintf("%X", canary)),
		"utf-16le":  UTF16LE(canary),
		"lowercase": bytes.ToLower([]byte(canary)),
	}
	// Base64 of the canary at each of the three alignments it can have
	// inside a longer string, with the partial edge characters dropped.
	for shift := 0; shift < 3; shift++ {
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			padded := append(bytes.Repeat([]byte{0}, shift), canary...)
			s := enc.EncodeToString(padded)
			start := (shift*8 + 5) / 6 // characters touched by the padding bytes
			end := (len(padded) * 8) / 6
			if end-start >= 8 {
				out[fmt.Sprintf("%s+%d", name, shift)] = []byte(s[start:end])
			}
		}
	}
	return out
}

// UTF16LE encodes s as UTF-16, little-endian (BMP only: canaries are ASCII).
func UTF16LE(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}
