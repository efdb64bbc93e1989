package syncer

import (
	"errors"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Names a folder on some system can't hold, or holds as another name
// (SPEC.md §12 "Portable names"). Such a path is never synced — neither
// written locally nor uploaded nor deleted on either side — so that a name
// safe on Linux can't escape or overwrite another file elsewhere.
var (
	// ErrNotPortable is a name with a character or form Windows or macOS
	// refuse or change: \ : * ? " < > |, a control character, a trailing
	// dot or space, or a reserved device name (CON, NUL, COM1, …).
	ErrNotPortable = errors.New("name not portable to every system")
	// ErrNameCollision is a name that differs from another in the same
	// folder only by case or Unicode normalisation.
	ErrNameCollision = errors.New("name differs from another only by case or Unicode form")
	// ErrLink is a link, device or unreadable entry in the folder: sync
	// never follows or writes through it.
	ErrLink = errors.New("a link or special file")
)

// portable reports whether name can be a file name on Linux, macOS and
// Windows alike.
func portable(name string) error {
	if strings.ContainsAny(name, `\:*?"<>|`) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return ErrNotPortable
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return ErrNotPortable
		}
	}
	stem, _, _ := strings.Cut(name, ".")
	switch stem = strings.ToUpper(strings.TrimRight(stem, " ")); stem {
	case "CON", "PRN", "AUX", "NUL":
		return ErrNotPortable
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '0' && stem[3] <= '9' {
		return ErrNotPortable
	}
	return nil
}

// foldPath is p as a case-insensitive, normalising file system sees it.
func foldPath(p string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(p)))
}

// unsyncable returns the paths among paths that can't be synced, with the
// reason: a component that is not portable, or a path that folds onto
// another one (both are left alone).
func unsyncable(paths map[string]bool) map[string]error {
	out := map[string]error{}
	folded := map[string][]string{}
	for p := range paths {
		folded[foldPath(p)] = append(folded[foldPath(p)], p)
		name := p[strings.LastIndexByte(p, '/')+1:]
		if err := portable(name); err != nil {
			out[p] = err
		}
	}
	for _, group := range folded {
		if len(group) > 1 {
			for _, p := range group {
				out[p] = ErrNameCollision
			}
		}
	}
	return out
}

// blockedBy returns why p can't be synced: p or one of its parents is in
// blocked.
func blockedBy(blocked map[string]error, p string) (error, bool) {
	for {
		if err, ok := blocked[p]; ok {
			return err, true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return nil, false
		}
		p = p[:i]
	}
}
