package syncer

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/coffre/coffre/workspace"
)

// Op is what a cycle did to one path.
type Op string

// The operations a Change names.
const (
	Uploaded      Op = "uploaded"
	Downloaded    Op = "downloaded"
	DeletedLocal  Op = "deleted locally"
	DeletedRemote Op = "deleted in the vault"
	// ConflictCopy: both sides changed the file; the local version was
	// kept under Change.Copy (a path from the folder), the vault's took
	// the name.
	ConflictCopy Op = "conflict"
	// Moved: this device and another moved the same file to different
	// places; the local file, at Change.From, moved to the vault's place.
	Moved Op = "moved"
)

// Change is one path a cycle moved, so that a person sees which files
// sync touched, not only how many.
type Change struct {
	Op   Op
	Path string // from the folder, with slashes
	Copy string // ConflictCopy: the local version's new name
	From string // Moved: where the local file was
}

func (r *Result) did(op Op, p string) {
	r.Changes = append(r.Changes, Change{Op: op, Path: p})
}

// kept records a conflict copy (cp, a path in the root) of p.
func (r *Result) kept(p, cp string) {
	r.Conflicts++
	r.Changes = append(r.Changes, Change{Op: ConflictCopy, Path: p, Copy: filepath.ToSlash(cp)})
}

// cannotWrite reports whether err means this user can't change the vault
// at all (a reader, or an archived vault): what they add or edit locally
// stays local only, and is not an error of the cycle.
func cannotWrite(err error) bool {
	return errors.Is(err, workspace.ErrReadOnly) || errors.Is(err, workspace.ErrArchived)
}

// copyLabel makes the name conflict copies carry (a person's name, maybe a
// device label) safe in a file name: it comes from the organisation log,
// where anyone named themselves, so a '/' or '..' must not make the copy
// land elsewhere, and a name Windows refuses must not make it unsyncable.
func copyLabel(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteRune('-')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.Trim(b.String(), ". ")
	if r := []rune(out); len(r) > 40 {
		out = strings.TrimRight(string(r[:40]), ". ")
	}
	if out == "" {
		return "unknown"
	}
	return out
}
