package client

import "testing"

// TestReadAheadTakenOnceBySameRead: a read sent ahead answers only the
// read it is (vault, start, pages, signed heads), once; any other read
// forgets it and sends its own, so an answer can't be used for a read
// that asked for something else, nor twice.
func TestReadAheadTakenOnceBySameRead(t *testing.T) {
	s := &Session{}
	sent := func() *readAhead {
		a := &readAhead{vaultID: "v1", from: 7, pages: false, signed: true, done: make(chan struct{})}
		s.ahead.next = a
		return a
	}
	others := []struct {
		vault         string
		from          uint64
		pages, signed bool
	}{
		{"v2", 7, false, true},
		{"v1", 8, false, true},
		{"v1", 7, true, true},
		{"v1", 7, false, false},
	}
	for _, o := range others {
		sent()
		if a := s.takeReadAhead(o.vault, o.from, o.pages, o.signed); a != nil {
			t.Fatalf("read %+v took the answer to another read", o)
		}
		if s.ahead.next != nil {
			t.Fatalf("read %+v left the answer to another read for later", o)
		}
	}
	a := sent()
	if got := s.takeReadAhead("v1", 7, false, true); got != a {
		t.Fatal("the same read did not take its answer")
	}
	if got := s.takeReadAhead("v1", 7, false, true); got != nil {
		t.Fatal("an answer was taken twice")
	}
	sent()
	s.dropReadAhead()
	if got := s.takeReadAhead("v1", 7, false, true); got != nil {
		t.Fatal("a dropped answer was taken")
	}
}
