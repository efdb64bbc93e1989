package link

import (
	"errors"
	"strings"
	"testing"

	"github.com/coffre/coffre/crypto"
)

func rootKey(t testing.TB) crypto.VerifyKey {
	k, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func TestRoundTrip(t *testing.T) {
	l := Link{Address: "coffre.example.org:7443", OrganisationID: "0123456789abcdef", Root: rootKey(t),
		Pin: "abc_-123", Kind: KindUser, Token: crypto.RandomBytes(32)}
	got, err := Parse(l.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != l.Address || got.OrganisationID != l.OrganisationID || !got.Root.Equal(l.Root) ||
		got.Pin != l.Pin || got.Kind != l.Kind || string(got.Token) != string(l.Token) {
		t.Fatalf("round trip changed the link: %+v", got)
	}
	plain := got.WithoutSecrets()
	if plain.Kind != "" || plain.Token != nil || strings.Contains(plain.String(), "token") {
		t.Fatalf("WithoutSecrets kept the token: %s", plain)
	}
}

func TestBadLinks(t *testing.T) {
	good := Link{Address: "h:1", OrganisationID: "0123456789abcdef", Root: rootKey(t)}.String()
	for name, s := range map[string]string{
		"not a url":          "::",
		"other scheme":       strings.Replace(good, "coffre://", "https://", 1),
		"no port":            strings.Replace(good, "h:1", "h", 1),
		"no organisation":    "coffre://h:1/?root=AA",
		"corrupt root key":   strings.Replace(good, "root=A", "root=B", 1) + "x",
		"no root":            "coffre://h:1/0123456789abcdef",
		"unknown kind":       good + "&kind=admin&token=" + strings.Repeat("A", 43),
		"invite w/o token":   good + "&kind=user",
		"short token":        good + "&kind=user&token=AAAA",
		"bootstrap no token": "coffre://h:1/0123456789abcdef?kind=bootstrap",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrBadLink) {
			t.Errorf("%s: %q parsed (err %v)", name, s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Link{Address: "h:1", OrganisationID: "0123456789abcdef", Root: rootKey(f), Kind: KindDevice, Token: make([]byte, 32)}.String())
	f.Add("coffre://127.0.0.1:7443/abc?kind=bootstrap&token=AAAAAAAAAAAAAAAAAAAAAA&fp=x")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrBadLink) {
				t.Fatalf("error is not ErrBadLink: %v", err)
			}
			return
		}
		again, err := Parse(l.String())
		if err != nil || again.String() != l.String() {
			t.Fatalf("accepted link does not round-trip: %q → %q (%v)", s, l.String(), err)
		}
	})
}
