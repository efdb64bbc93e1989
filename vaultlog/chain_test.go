package vaultlog

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

func testEntry(position uint64, prev []byte, writes ...Write) *Entry {
	return &Entry{OrganisationID: "o", VaultID: "v", Author: "a", Position: position, PreviousHash: prev,
		OrganisationPosition: 3, Time: time.Unix(1_800_000_000, 0), KeyIndex: 1, Writes: writes, Manifests: []byte("batch")}
}

// A chain break is the one certificate.ErrChain of every log.
func TestExtends(t *testing.T) {
	genesis := VaultGenesis("o", "v")
	head := certificate.Head{Hash: genesis}
	if err := Extends(head, testEntry(1, genesis)); err != nil {
		t.Fatalf("entry 1 on genesis: %v", err)
	}
	for name, e := range map[string]*Entry{
		"another position":      testEntry(2, genesis),
		"another previous hash": testEntry(1, VaultGenesis("o", "other")),
	} {
		if err := Extends(head, e); !errors.Is(err, certificate.ErrChain) {
			t.Errorf("%s: got %v, want certificate.ErrChain", name, err)
		}
	}
}

// The hash chain binds every byte: an entry re-encoded or moved to
// another vault gets another hash.
func TestEntryHash(t *testing.T) {
	k, _ := crypto.GenerateSigningKey()
	data, err := SignEntry(k, testEntry(1, VaultGenesis("o", "v"), Write{ManifestID: "0123456789abcdef", Version: 1}))
	if err != nil {
		t.Fatal(err)
	}
	h := EntryHash(VaultGenesis("o", "v"), data)
	if string(h) == string(EntryHash(VaultGenesis("o", "w"), data)) || string(h) == string(EntryHash(VaultGenesis("o", "v"), append(data, 0))) {
		t.Fatal("two different chains give one hash")
	}
	e, err := ParseEntry(data)
	if err != nil || e.Position != 1 || len(e.Writes) != 1 {
		t.Fatalf("round trip: %+v, %v", e, err)
	}
	if _, err := ParseEntry(append(data, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: got %v, want ErrMalformed", err)
	}
}

// The order rules the server and every reader apply to a new entry.
func TestTail(t *testing.T) {
	var tail Tail
	first := testEntry(1, nil, Write{ManifestID: "aaaaaaaaaaaaaaaa", Version: 1}, Write{ManifestID: "bbbbbbbbbbbbbbbb", Version: 1})
	if err := tail.Check(first); err != nil {
		t.Fatalf("first entry: %v", err)
	}
	tail.Fold(first)
	if n := tail.NextVersion("aaaaaaaaaaaaaaaa"); n != 2 {
		t.Fatalf("next version %d, want 2", n)
	}
	saved := tail.Clone()
	next := func(f func(e *Entry)) *Entry {
		e := testEntry(2, nil, Write{ManifestID: "aaaaaaaaaaaaaaaa", Version: 2})
		f(e)
		return e
	}
	if err := tail.Check(next(func(*Entry) {})); err != nil {
		t.Fatalf("next entry: %v", err)
	}
	for name, e := range map[string]*Entry{
		"an older organisation position": next(func(e *Entry) { e.OrganisationPosition = 2 }),
		"an earlier time":                next(func(e *Entry) { e.Time = e.Time.Add(-time.Millisecond) }),
		"a version skipped":              next(func(e *Entry) { e.Writes[0].Version = 3 }),
		"a version written again":        next(func(e *Entry) { e.Writes[0].Version = 1 }),
		"a new manifest at version 2":    next(func(e *Entry) { e.Writes[0] = Write{ManifestID: "cccccccccccccccc", Version: 2} }),
	} {
		if err := tail.Check(e); !errors.Is(err, ErrEntryRefused) {
			t.Errorf("%s: got %v, want ErrEntryRefused", name, err)
		}
	}
	tail.Fold(next(func(*Entry) {}))
	if saved.NextVersion("aaaaaaaaaaaaaaaa") != 2 || tail.NextVersion("aaaaaaaaaaaaaaaa") != 3 {
		t.Fatal("a clone shares its versions with the original")
	}
}
