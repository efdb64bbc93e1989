package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/workspace"
)

// Vault names are encrypted under the vault's key (SPEC.md §11.2): the
// server and the organisation log see ciphertext only, so their rules are
// the client's, and a duplicate is one among the vaults this user can read.
var (
	// ErrVaultName: a name that breaks the rules of CheckVaultName; the
	// message says which.
	ErrVaultName = errors.New("invalid vault name")
	// ErrVaultNameTaken: another of this user's vaults has that name, or
	// the same name in other letter case.
	ErrVaultNameTaken = errors.New("you already have a vault of that name")
	// ErrNotMember: this user was a member of the vault and no longer is;
	// the message says who removed them and when, or when their role
	// ended.
	ErrNotMember = errors.New("you are no longer a member")
)

// MaxVaultName is the longest vault name, in characters.
const MaxVaultName = 100

// CheckVaultName applies the rules every vault name follows (SPEC.md
// §11.2): not empty, no ':' or '/' (they separate a vault from a path in
// VAULT:/path), no control characters, no space at either end, valid
// UTF-8, at most MaxVaultName characters.
func CheckVaultName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: a vault needs a name", ErrVaultName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrVaultName, name)
	case strings.ContainsAny(name, ":/"):
		return fmt.Errorf("%w %q: no ':' or '/' (they separate a vault from its paths, as in cardiology:/2026)", ErrVaultName, name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w %q: no control characters", ErrVaultName, name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w %q: no space at the start or the end", ErrVaultName, name)
	case utf8.RuneCountInString(name) > MaxVaultName:
		return fmt.Errorf("%w: at most %d characters", ErrVaultName, MaxVaultName)
	}
	return nil
}

// checkNewVaultName checks a name for a new vault, or for the vault ref
// being renamed ("" on creation): valid, and not the name of another of
// this user's vaults in any letter case, so that a name always finds one
// vault and a wrong case finds a suggestion.
func (s *Session) checkNewVaultName(name, ref string) error {
	if err := CheckVaultName(name); err != nil {
		return err
	}
	self := ""
	if ref != "" {
		v, err := s.findVault(ref)
		if err != nil {
			return err
		}
		self = v.ID
	}
	mine, err := s.Vaults()
	if err != nil {
		return err
	}
	for _, v := range mine {
		if v.ID != self && strings.EqualFold(v.Name, name) {
			return fmt.Errorf("%w: %q (id %s)", ErrVaultNameTaken, v.Name, v.ID)
		}
	}
	return nil
}

// vaultNotFound explains why ref names none of mine (this user's vaults):
// a vault they were removed from (ErrNotMember, by id or by the name they
// can still decrypt), else ErrUnknownVault with the closest name as a
// suggestion.
func (s *Session) vaultNotFound(ref string, mine []VaultInfo) error {
	if err := s.formerMembership(ref); err != nil {
		return err
	}
	if guess, ok := closestName(ref, mine); ok {
		return fmt.Errorf("%w: %q; did you mean %q?", ErrUnknownVault, ref, guess)
	}
	return fmt.Errorf("%w: %q", ErrUnknownVault, ref)
}

// roleChange is the last certificate that set this user's role in a vault.
type roleChange struct {
	role   certificate.Role
	until  time.Time
	time   time.Time
	author string // device id
}

// formerMembership returns ErrNotMember, with its story, when ref is a
// vault this user had a role in and has none now; nil otherwise. The
// story comes from the verified organisation log this device stores.
func (s *Session) formerMembership(ref string) error {
	me, now := s.keys.UserID, time.Now()
	var candidates []*certificate.Vault
	for _, v := range s.org.Vaults() {
		if s.org.RoleOf(v, me, now) == certificate.RoleNone {
			candidates = append(candidates, v)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	last := map[string]roleChange{}
	err := s.state.each(func(_ uint64, data []byte) error {
		c, err := certificate.Parse(data)
		if err != nil {
			return nil // verified when stored; a format this code can't read tells nothing here
		}
		switch st := c.Statement.(type) {
		case certificate.VaultCreated:
			if d, ok := s.org.Device(c.Author); ok && d.UserID == me {
				last[st.VaultID] = roleChange{role: certificate.RoleOwner, time: c.Time, author: c.Author}
			}
		case certificate.VaultRoleSet:
			if st.UserID == me {
				last[st.VaultID] = roleChange{role: st.Role, until: st.Until, time: c.Time, author: c.Author}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, v := range candidates {
		change, was := last[v.ID]
		if !was {
			continue
		}
		name, named := s.formerName(v)
		if v.ID != ref && (!named || name != ref) {
			continue
		}
		what := "vault " + v.ID
		if named {
			what = fmt.Sprintf("vault %q", name)
		}
		switch {
		case change.role == certificate.RoleNone:
			return fmt.Errorf("%w of %s (removed by %s on %s)", ErrNotMember, what, s.deviceOwner(change.author), change.time.Local().Format("2006-01-02 15:04 MST"))
		case !change.until.IsZero() && !now.Before(change.until):
			return fmt.Errorf("%w of %s (your %s role ended on %s)", ErrNotMember, what, change.role, change.until.Local().Format("2006-01-02 15:04 MST"))
		}
		return fmt.Errorf("%w of %s", ErrNotMember, what)
	}
	return nil
}

// formerName decrypts the name of a vault with the keys this user was
// given while a member: it fails once the vault was renamed after they
// left.
func (s *Session) formerName(v *certificate.Vault) (string, bool) {
	keys, err := s.openKeys(s.org, v)
	if err != nil {
		return "", false
	}
	name, err := workspace.DecryptName(s.org.ID, v, keys)
	return name, err == nil
}

// deviceOwner names the user of a device, as the verified log has them.
func (s *Session) deviceOwner(deviceID string) string {
	if d, ok := s.org.Device(deviceID); ok {
		if u, ok := s.org.User(d.UserID); ok {
			return fmt.Sprintf("%s <%s>", u.Name, u.Email)
		}
	}
	if deviceID == "" {
		return "the root key"
	}
	return "device " + deviceID
}

// closestName returns the name among mine that ref most likely meant: the
// same in other letter case, else one within two edits of a name long
// enough for that to mean something.
func closestName(ref string, mine []VaultInfo) (string, bool) {
	for _, v := range mine {
		if strings.EqualFold(v.Name, ref) {
			return v.Name, true
		}
	}
	best, bestDist := "", 3
	if utf8.RuneCountInString(ref) < 4 {
		bestDist = 2
	}
	for _, v := range mine {
		if d := editDistance(strings.ToLower(ref), strings.ToLower(v.Name)); d < bestDist {
			best, bestDist = v.Name, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur := make([]int, len(y)+1)
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(y)]
}
