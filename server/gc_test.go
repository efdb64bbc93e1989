package server

import (
	"errors"
	"slices"
	"testing"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestDeclaredBlocks: what VaultAppend takes as an entry's declaration
// (SPEC.md §7.5): well-formed ids, each once; nothing from an older
// client; and a request that lists blocks without declaring them, or too
// many, or an id that is not one, is malformed.
func TestDeclaredBlocks(t *testing.T) {
	const a, b = "block0000000001", "block0000000002"
	for _, c := range []struct {
		name     string
		req      *coffrev1.VaultAppendRequest
		declared bool
		ids      []string
		bad      bool
	}{
		{"older client", &coffrev1.VaultAppendRequest{}, false, nil, false},
		{"empty", &coffrev1.VaultAppendRequest{BlocksDeclared: true}, true, []string{}, false},
		{"twice", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{a, b, a}}, true, []string{a, b}, false},
		{"undeclared list", &coffrev1.VaultAppendRequest{BlockIds: []string{a}}, false, nil, true},
		{"path", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{a, "../../x"}}, false, nil, true},
		{"too many", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: make([]string, maxDeclaredBlocks+1)}, false, nil, true},
	} {
		refs, err := declaredBlocks(c.req)
		if c.bad {
			if !errors.Is(err, errBadRequest) {
				t.Errorf("%s: %v, want %v", c.name, err, errBadRequest)
			}
			continue
		}
		if err != nil || refs.Declared != c.declared || !slices.Equal(refs.IDs, c.ids) {
			t.Errorf("%s: %+v, %v; want declared %v, %v", c.name, refs, err, c.declared, c.ids)
		}
	}
}
