package app

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// Devices: a user's devices as the verified log describes them, with the
// last connection the server recorded, and the revocation of one (SPEC.md
// §15.1, §15.2). The devices page of the interface (devices.js) shows
// them; adding a device is the device invitation and greeting of
// api_people.go and api_greet.go.

// errDeviceRevokedAlready: the device to revoke is revoked already.
var errDeviceRevokedAlready = errors.New("that device is already revoked")

// userDeviceJSON is one device of a user (SPEC.md §15.1).
type userDeviceJSON struct {
	ID        string     `json:"id"`
	Label     string     `json:"label"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"createdBy"` // the enrolling device's user's email; "" for the root key
	Revoked   bool       `json:"revoked"`
	RevokedOn *time.Time `json:"revokedOn,omitempty"`
	RevokedBy string     `json:"revokedBy,omitempty"`
	This      bool       `json:"this"`
	// NoSealKey: enrolled before device seal keys, it can't receive a
	// rotation of the user's keys and must be re-enrolled (§15.2).
	NoSealKey bool `json:"noSealKey"`
	// LastConnection and LastAddress: the newest connection the server
	// recorded; absent offline or if it recorded none.
	LastConnection *time.Time `json:"lastConnection,omitempty"`
	LastAddress    string     `json:"lastAddress,omitempty"`
}

// devicesJSON answers GET /api/devices.
type devicesJSON struct {
	User    string `json:"user"` // the email of whose devices these are
	Name    string `json:"name"`
	Me      bool   `json:"me"`
	Offline bool   `json:"offline"` // the server was unreachable: no connections
	// UserRevoked: the user is revoked, and every device with them (a
	// user's revocation does not list each device as revoked).
	UserRevoked   bool             `json:"userRevoked"`
	UserRevokedOn *time.Time       `json:"userRevokedOn,omitempty"`
	Devices       []userDeviceJSON `json:"devices"`
}

func deviceOut(d client.DeviceInfo) userDeviceJSON {
	out := userDeviceJSON{ID: d.ID, Label: d.Label, Created: d.CreatedAt, CreatedBy: d.CreatedBy, Revoked: d.Revoked,
		This: d.This, NoSealKey: d.NoSealKey && !d.Revoked, LastConnection: timeOrNil(d.LastConnection), LastAddress: d.LastAddress}
	if d.Revoked {
		out.RevokedOn, out.RevokedBy = timeOrNil(d.RevokedAt), d.RevokedBy
	}
	return out
}

// listDevices lists this user's devices, or with ?user=EMAIL another
// user's (administrators). Offline, the verified log answers alone.
func (h *api) listDevices(r *http.Request) (any, error) {
	var out devicesJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		ref := r.URL.Query().Get("user")
		if ref == "" {
			ref = s.Identity().UserID
		}
		u, err := s.FindUser(ref)
		if err != nil {
			return err
		}
		out = devicesJSON{User: u.Email, Name: u.Name, Me: u.ID == s.Identity().UserID, Devices: []userDeviceJSON{}, UserRevoked: u.Revoked()}
		if u.Revoked() {
			out.UserRevokedOn = timeOrNil(u.RevokedOn)
		}
		devices, err := s.DevicesOf(r.Context(), u.ID, true)
		if errors.Is(err, client.ErrServerUnavailable) {
			out.Offline = true
			devices, err = s.DevicesOf(r.Context(), u.ID, false)
		}
		if err != nil {
			return err
		}
		for _, d := range devices {
			dj := deviceOut(d)
			if u.Revoked() {
				dj.NoSealKey = false // nothing to re-enrol
			}
			out.Devices = append(out.Devices, dj)
		}
		return nil
	})
	return out, err
}

// vaultRefJSON names a vault in a revocation's answer.
type vaultRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// revocationJSON is what revoking a device did (SPEC.md §15.2).
type revocationJSON struct {
	Device userDeviceJSON `json:"device"`
	// UserKeysRotated: the user's keys were rotated (the device was one of
	// this user's); UserKeysError says why they could not be.
	UserKeysRotated bool   `json:"userKeysRotated"`
	UserKeysError   string `json:"userKeysError,omitempty"`
	// Stranded are the user's active devices that could not receive the
	// new keys: they must be enrolled again, then revoked.
	Stranded []userDeviceJSON `json:"stranded"`
	// Rotated are the vaults whose key was rotated at once; Pending, those
	// left to their managers' devices (rotated at their next use).
	Rotated []vaultRefJSON `json:"rotated"`
	Pending []vaultRefJSON `json:"pending"`
	// Error: the device is revoked but what follows failed part way (the
	// rotations left are done at the next use, §15.2).
	Error *apiError `json:"error,omitempty"`
}

// revokeDevice revokes a device of this user (not this one), or, for an
// administrator, anyone's, then rotates the keys the device held.
func (h *api) revokeDevice(r *http.Request) (any, error) {
	var out revocationJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		id := r.PathValue("id")
		d, ok := s.Organisation().Device(id)
		switch {
		case !ok:
			return fmt.Errorf("%w: %q", client.ErrUnknownDevice, id)
		case d.UserID != s.Identity().UserID && !s.IsAdmin():
			return fmt.Errorf("another user's device: %w", client.ErrNotAdmin)
		case d.ID == s.Identity().DeviceID:
			return client.ErrThisDevice
		case d.Revoked():
			return fmt.Errorf("%w: %s (%s)", errDeviceRevokedAlready, d.ID, d.Label)
		}
		if u, ok := s.Organisation().User(d.UserID); ok && u.Revoked() {
			return fmt.Errorf("%w: the device went with its user", client.ErrUserRevoked)
		}
		done, err := s.RevokeDevice(r.Context(), d.ID)
		if done.Device == nil || !done.Device.Revoked() {
			if err == nil {
				err = errors.New("the device was not revoked")
			}
			return err
		}
		out = revocationOut(s, done)
		if err != nil {
			_, code := errorCode(err)
			out.Error = &apiError{Code: code, Message: err.Error()}
		}
		return nil
	})
	return out, err
}

func revocationOut(s *client.Session, done client.DeviceRevocation) revocationJSON {
	out := revocationJSON{Device: logDeviceOut(s, done.Device), Stranded: []userDeviceJSON{},
		Rotated: []vaultRefJSON{}, Pending: []vaultRefJSON{}}
	if done.UserKeys != nil {
		out.UserKeysRotated = true
		for _, d := range done.UserKeys.Stranded {
			out.Stranded = append(out.Stranded, logDeviceOut(s, d))
		}
	}
	if done.UserKeysErr != nil {
		out.UserKeysError = done.UserKeysErr.Error()
	}
	for _, v := range done.Rotated {
		out.Rotated = append(out.Rotated, vaultRefJSON{ID: v.ID, Name: v.Name})
	}
	for _, v := range done.Pending {
		out.Pending = append(out.Pending, vaultRefJSON{ID: v.ID, Name: v.Name})
	}
	return out
}

// logDeviceOut describes a device from the verified log alone.
func logDeviceOut(s *client.Session, d *certificate.Device) userDeviceJSON {
	out := userDeviceJSON{ID: d.ID, Label: d.Label, Created: d.CreatedAt, Revoked: d.Revoked(),
		This: d.ID == s.Identity().DeviceID, NoSealKey: !d.HasSealKey() && !d.Revoked()}
	if d.Revoked() {
		out.RevokedOn = timeOrNil(d.RevokedOn)
	}
	return out
}

// recoveryJSON answers POST /api/devices/recovery: the recovery file
// (encrypted under the secret, SPEC.md §15.5) for the page to offer as a
// download, and the secret, shown once.
type recoveryJSON struct {
	Device   userDeviceJSON `json:"device"`
	FileName string         `json:"fileName"`
	File     []byte         `json:"file"` // base64 in JSON
	Secret   string         `json:"secret"`
}

// exportRecovery enrols a recovery device of this user and answers its
// file and secret. The file is written to a private temporary folder of
// the data directory (ExportRecovery writes to a path) and removed before
// answering: the app keeps neither the file nor the secret.
func (h *api) exportRecovery(r *http.Request) (any, error) {
	var out recoveryJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		dir, err := os.MkdirTemp(h.app.Home, "recovery-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "recovery.age")
		secret, d, err := s.ExportRecovery(r.Context(), path)
		if err != nil {
			return err
		}
		file, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading the recovery file back: %w (revoke the recovery device %s and export again)", err, d.ID)
		}
		out = recoveryJSON{Device: logDeviceOut(s, d), File: file, Secret: secret,
			FileName: "coffre-recovery-" + time.Now().UTC().Format("2006-01-02") + ".age"}
		return nil
	})
	return out, err
}
