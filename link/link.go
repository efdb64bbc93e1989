// Package link reads and writes organisation links (SPEC.md §8):
//
//	coffre://HOST:PORT/ORGANISATION?root=KEY&fp=PIN&kind=KIND&token=TOKEN
//
// root is the organisation's root verify key (absent from a bootstrap link,
// since bootstrap creates it); fp pins the server's TLS public key when it is
// self-signed; token and kind are present in bootstrap and invitation links.
package link

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/coffre/coffre/crypto"
)

// Kinds of link.
const (
	KindOrganisation = ""
	KindBootstrap    = "bootstrap"
	KindUser         = "user"
	KindDevice       = "device"
	// KindRecovery: a member's offer to help a user recover (SPEC.md §15.6).
	KindRecovery = "recovery"
)

// ErrBadLink is returned for a link that can't be read.
var ErrBadLink = errors.New("bad coffre link")

// Link is a parsed organisation link.
type Link struct {
	Address        string // host:port
	OrganisationID string
	Root           crypto.VerifyKey // zero in a bootstrap link
	Pin            string           // base64url SHA-256 of the server's TLS public key; empty: use system roots
	Kind           string
	Token          []byte
}

var b64 = base64.RawURLEncoding

// String writes the link.
func (l Link) String() string {
	q := url.Values{}
	if !l.Root.IsZero() {
		q.Set("root", b64.EncodeToString(l.Root.Bytes()))
	}
	if l.Pin != "" {
		q.Set("fp", l.Pin)
	}
	if l.Kind != "" {
		q.Set("kind", l.Kind)
	}
	if len(l.Token) > 0 {
		q.Set("token", b64.EncodeToString(l.Token))
	}
	u := url.URL{Scheme: "coffre", Host: l.Address, Path: "/" + l.OrganisationID, RawQuery: q.Encode()}
	return u.String()
}

// WithoutSecrets returns the link without its token: the organisation link
// that members keep.
func (l Link) WithoutSecrets() Link {
	l.Kind, l.Token = "", nil
	return l
}

// Parse reads a link.
func Parse(s string) (Link, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "coffre" || u.Host == "" {
		return Link{}, fmt.Errorf("%w: want coffre://HOST:PORT/ORGANISATION?QUERY", ErrBadLink)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return Link{}, fmt.Errorf("%w: address %q has no port", ErrBadLink, u.Host)
	}
	l := Link{Address: u.Host, OrganisationID: trimSlash(u.Path)}
	if l.OrganisationID == "" {
		return Link{}, fmt.Errorf("%w: no organisation in the path", ErrBadLink)
	}
	q := u.Query()
	if r := q.Get("root"); r != "" {
		b, err := b64.DecodeString(r)
		if err != nil {
			return Link{}, fmt.Errorf("%w: root key is not base64url", ErrBadLink)
		}
		if l.Root, err = crypto.ParseVerifyKey(b); err != nil {
			return Link{}, fmt.Errorf("%w: bad root key: %v", ErrBadLink, err)
		}
	}
	l.Pin = q.Get("fp")
	l.Kind = q.Get("kind")
	switch l.Kind {
	case KindOrganisation, KindBootstrap, KindUser, KindDevice, KindRecovery:
	default:
		return Link{}, fmt.Errorf("%w: unknown kind %q", ErrBadLink, l.Kind)
	}
	if t := q.Get("token"); t != "" {
		if l.Token, err = b64.DecodeString(t); err != nil || len(l.Token) < 16 {
			return Link{}, fmt.Errorf("%w: bad token", ErrBadLink)
		}
	}
	if l.Kind != KindOrganisation && len(l.Token) == 0 {
		return Link{}, fmt.Errorf("%w: %s link without a token", ErrBadLink, l.Kind)
	}
	if l.Kind != KindBootstrap && l.Root.IsZero() {
		return Link{}, fmt.Errorf("%w: no root key", ErrBadLink)
	}
	return l, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	return p
}
