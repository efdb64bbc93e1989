package harness

import (
	"os"
	"path/filepath"
	"time"
)

// What the coffre command prints with --json, as a device's methods.

// VaultEntry is one entry of 'coffre vault list --json'.
type VaultEntry struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	Role          string        `json:"role"`
	KeyIndex      uint32        `json:"key_index"`
	Archived      bool          `json:"archived"`
	NeedsRotation bool          `json:"needs_rotation"`
	Members       []VaultMember `json:"members"`
	AwaitingKey   bool          `json:"awaiting_key"`
	// Emergencies are the vault's emergency accesses (SPEC.md §16): who,
	// why, until when, whether running.
	Emergencies []struct {
		Kind    string    `json:"kind"`
		User    string    `json:"user"`
		Reason  string    `json:"reason"`
		Until   time.Time `json:"until"`
		Running bool      `json:"running"`
	} `json:"emergencies"`
}

// VaultMember is one member of a VaultEntry.
type VaultMember struct {
	UserID string     `json:"user_id"`
	Name   string     `json:"name"`
	Email  string     `json:"email"`
	Role   string     `json:"role"`
	Until  *time.Time `json:"until"`
}

// Roles maps each member's email to their role.
func (v VaultEntry) Roles() map[string]string {
	out := map[string]string{}
	for _, m := range v.Members {
		out[m.Email] = m.Role
	}
	return out
}

// Item is one entry of 'coffre ls --json'.
type Item struct {
	Name    string    `json:"name"`
	Folder  bool      `json:"folder"`
	Size    uint64    `json:"size"`
	Version uint64    `json:"version"`
	Updated time.Time `json:"updated"`
	Author  string    `json:"author"`
}

// FileVersion is one entry of 'coffre history --json'.
type FileVersion struct {
	Version uint64    `json:"version"`
	Size    uint64    `json:"size"`
	Time    time.Time `json:"time"`
	Author  string    `json:"author"`
	Device  string    `json:"device"`
}

// Vaults runs 'vault list --json'.
func (d *Device) Vaults() []VaultEntry {
	d.t.Helper()
	var vs []VaultEntry
	DecodeJSON(d.t, d.MustRun("vault", "list", "--json"), &vs)
	return vs
}

// Vault returns the vault named name from 'vault list --json'; it must be
// there, once.
func (d *Device) Vault(name string) VaultEntry {
	d.t.Helper()
	var found []VaultEntry
	for _, v := range d.Vaults() {
		if v.Name == name {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		d.t.Fatalf("%s sees %d vaults named %q, want 1", d.Name, len(found), name)
	}
	return found[0]
}

// Ls runs 'ls --json TARGET EXTRA...' and returns the items by name.
func (d *Device) Ls(target string, extra ...string) map[string]Item {
	d.t.Helper()
	var items []Item
	DecodeJSON(d.t, d.MustRun(append([]string{"ls", "--json", target}, extra...)...), &items)
	out := map[string]Item{}
	for _, i := range items {
		if _, dup := out[i.Name]; dup {
			d.t.Errorf("ls %s lists %q twice", target, i.Name)
		}
		out[i.Name] = i
	}
	return out
}

// History runs 'history --json TARGET'.
func (d *Device) History(target string) []FileVersion {
	d.t.Helper()
	var vs []FileVersion
	DecodeJSON(d.t, d.MustRun("history", "--json", target), &vs)
	return vs
}

// GetBytes downloads a vault file into a new temporary file and returns
// its content.
func (d *Device) GetBytes(target string, extra ...string) []byte {
	d.t.Helper()
	dest := filepath.Join(d.t.TempDir(), "got")
	d.MustRun(append([]string{"get", target, dest}, extra...)...)
	b, err := os.ReadFile(dest)
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}
