package crypto

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSecretsDoNotPrint formats every secret type every way a log line or
// error message might, and requires that the key bytes never appear.
func TestSecretsDoNotPrint(t *testing.T) {
	const fill = 0xab // 171; every secret below is built from it
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = fill
	}
	sk, _ := ParseSigningKey(append([]byte{AlgEd25519}, seed...))
	seal, _ := ParseSealKey(append([]byte{AlgXWing}, seed...))
	secret, _ := ParseSecretKey(append([]byte{AlgXChaCha20Poly1305}, seed...))
	boxKey, _ := boxKeyFrom(seed)
	peer, _ := GenerateBoxKey()
	ch, _ := boxKey.NewChannel(peer.Public(), nil)

	// A struct holding keys in unexported fields: fmt prints those by
	// reflection without calling their methods.
	type holder struct {
		sk     SigningKey
		secret SecretKey
		ch     Channel
	}
	values := map[string]any{
		"*SigningKey": sk, "SigningKey": *sk,
		"*SealKey": seal, "SealKey": *seal,
		"SecretKey": secret, "*SecretKey": &secret,
		"*BoxKey": boxKey, "BoxKey": *boxKey,
		"*Channel": ch, "Channel": *ch,
		"holder": holder{*sk, secret, *ch}, "*holder": &holder{*sk, secret, *ch},
	}
	leaks := []string{"171 171", "abab", "0xab, 0xab", "\xab\xab"}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
			out := fmt.Sprintf(verb, v)
			for _, leak := range leaks {
				if strings.Contains(out, leak) {
					t.Errorf("%s with %s leaks: %s", name, verb, out)
				}
			}
			if !strings.Contains(name, "holder") && !strings.Contains(out, "{private}") {
				t.Errorf("%s with %s = %q, want {private}", name, verb, out)
			}
		}
		if strings.Contains(name, "holder") {
			continue // encoding/json skips unexported fields anyway
		}
		if out, err := json.Marshal(v); err == nil {
			t.Errorf("json.Marshal(%s) succeeded: %s", name, out)
		}
	}
	for name, v := range map[string]fmt.Stringer{"SigningKey": sk, "SealKey": seal, "SecretKey": secret, "BoxKey": boxKey} {
		if s := v.String(); s != "{private}" {
			t.Errorf("%s.String() = %q", name, s)
		}
	}
	for name, v := range map[string]fmt.GoStringer{"SigningKey": sk, "SealKey": seal, "SecretKey": secret, "BoxKey": boxKey, "Channel": ch} {
		if s := v.GoString(); s != "{private}" {
			t.Errorf("%s.GoString() = %q", name, s)
		}
	}
	if _, err := secret.MarshalText(); err == nil {
		t.Error("SecretKey.MarshalText succeeded")
	}
}
