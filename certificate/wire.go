package certificate

import "encoding/binary"

// signedParts reads data as Sign writes it: a SignedCertificate holding a
// non-empty body and a non-empty signature and nothing else, in its one
// deterministic encoding (field 1, then field 2, each length in its
// shortest varint). It returns both as sub-slices of data, without the
// copies and the re-encoding that reading it with proto and checking its
// canonical form cost (a first sync reads every certificate of the log).
// ok is false for anything else: the caller then reads data with proto, as
// before, so that both accept and refuse exactly the same bytes.
func signedParts(data []byte) (body, signature []byte, ok bool) {
	body, rest, ok := bytesField(data, 1)
	if !ok {
		return nil, nil, false
	}
	signature, rest, ok = bytesField(rest, 2)
	if !ok || len(rest) != 0 {
		return nil, nil, false
	}
	return body, signature, true
}

// bytesField reads a non-empty bytes field numbered field at the start of
// b, as proto's deterministic encoding writes one.
func bytesField(b []byte, field byte) (value, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != field<<3|2 {
		return nil, nil, false
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || k != varintLen(binary.AppendUvarint, n) || n == 0 || n > uint64(len(b)-1-k) {
		return nil, nil, false
	}
	end := 1 + k + int(n)
	return b[1+k : end], b[end:], true
}
