package workspace

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
)

// Manifest batches (SPEC.md §11.5, entry format 2): the manifests of an
// entry's writes are one ciphertext, so that what a manifest written
// alone repeats — its own id, its time, a nonce and a tag, its parent's
// id — is paid once per entry, not once per file.

// batchAAD binds a batch to its entry's place and to the writes it
// answers, in order: each manifest's id and version is the write's at its
// place (SECURITY.md A11, A72).
func batchAAD(orgID, vaultID string, position uint64, index uint32, writes []vaultlog.Write) []byte {
	parts := [][]byte{[]byte(orgID), []byte(vaultID), u64(position), u32(index)}
	for _, w := range writes {
		parts = append(parts, []byte(w.ManifestID), u64(w.Version))
	}
	return aad("manifests", parts...)
}

// encryptBatch serialises the manifests of e's writes (one per write, in
// order) as a ManifestBatch and encrypts it under vault key index: the
// entry's Manifests.
func encryptBatch(orgID, vaultID string, e *vaultlog.Entry, key crypto.SecretKey, manifests []*Manifest) ([]byte, error) {
	if len(manifests) != len(e.Writes) {
		panic("workspace: internal error: a batch of " + fmt.Sprint(len(manifests)) + " manifests for " + fmt.Sprint(len(e.Writes)) + " writes")
	}
	b := &coffrev1.ManifestBatch{}
	parents := map[string]uint32{}
	for i, m := range manifests {
		if m.ID != e.Writes[i].ManifestID {
			panic("workspace: internal error: a batch's manifest is not its write's")
		}
		format, folder, file := encodeKind(m, true)
		w := &coffrev1.BatchManifest{FormatVersion: format}
		if m.Parent != "" {
			if _, ok := parents[m.Parent]; !ok {
				b.Parents = append(b.Parents, m.Parent)
				parents[m.Parent] = uint32(len(b.Parents))
			}
			w.Parent = parents[m.Parent]
		}
		if folder != nil {
			w.Kind = &coffrev1.BatchManifest_Folder{Folder: folder}
		} else {
			w.Kind = &coffrev1.BatchManifest_File{File: file}
		}
		b.Manifests = append(b.Manifests, w)
	}
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return nil, err
	}
	k := crypto.DeriveKey(key.Bytes(), labelManifest, nil)
	return k.Encrypt(batchAAD(orgID, vaultID, e.Position, e.KeyIndex, e.Writes), plain), nil
}

// openBatch decrypts a format-2 entry's manifests and checks them: one per
// write (its id is the write's), parents given once each, valid, and
// named by an index in range, and each manifest as decodeKind checks it.
// Its time is the entry's.
func openBatch(orgID, vaultID string, e *vaultlog.Entry, key crypto.SecretKey) ([]*Manifest, error) {
	k := crypto.DeriveKey(key.Bytes(), labelManifest, nil)
	plain, err := k.Decrypt(batchAAD(orgID, vaultID, e.Position, e.KeyIndex, e.Writes), e.Manifests)
	if err != nil {
		return nil, fmt.Errorf("%w: the manifests of entry %d do not decrypt", ErrBadManifest, e.Position)
	}
	var b coffrev1.ManifestBatch
	if err := proto.Unmarshal(plain, &b); err != nil || len(b.GetManifests()) != len(e.Writes) {
		return nil, fmt.Errorf("%w: entry %d does not hold one manifest per write", ErrBadManifest, e.Position)
	}
	seen := make(map[string]bool, len(b.GetParents()))
	for _, p := range b.GetParents() {
		if !certificate.ValidID(p) || seen[p] {
			return nil, fmt.Errorf("%w: entry %d names a bad parent", ErrBadManifest, e.Position)
		}
		seen[p] = true
	}
	out := make([]*Manifest, 0, len(e.Writes))
	for i, w := range b.GetManifests() {
		m := &Manifest{ID: e.Writes[i].ManifestID, Updated: e.Time}
		if p := w.GetParent(); p > 0 {
			if int(p) > len(b.GetParents()) {
				return nil, fmt.Errorf("%w: %s names parent %d of %d", ErrBadManifest, m.ID, p, len(b.GetParents()))
			}
			m.Parent = b.GetParents()[p-1]
		}
		if err := decodeKind(m, w.GetFormatVersion(), w.GetFolder(), w.GetFile(), true); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
