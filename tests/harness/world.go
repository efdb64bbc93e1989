package harness

import (
	"strings"
	"testing"

	"github.com/coffre/coffre/tests/testbackend"
)

// World is what one test runs: its servers and devices, each in the test's
// own temporary directories and stopped when it ends. Worlds of different
// tests share nothing but the binaries, so their tests may run in
// parallel.
type World struct {
	t testing.TB
}

// New returns the world of test t.
func New(t testing.TB) *World { return &World{t: t} }

// Server starts a coffre-server process keeping its data in backend (for
// the backend of this run: testbackend.New(t)) on a free port and a new
// data directory.
func (w *World) Server(backend testbackend.Deployment) *Server {
	w.t.Helper()
	return startServer(w.t, ServerConfig{Backend: backend})
}

// ServerWith starts a coffre-server process as c says.
func (w *World) ServerWith(c ServerConfig) *Server {
	w.t.Helper()
	return startServer(w.t, c)
}

// Device returns a new device (an empty data directory) named name.
func (w *World) Device(name string) *Device {
	w.t.Helper()
	return NewDevice(w.t, name)
}

// Enrol runs both sides of an enrolment as processes (see Enrol).
func (w *World) Enrol(greeter *Device, greetArgs []string, claimer *Device, link string, claimArgs []string, x Exchange) EnrolResult {
	w.t.Helper()
	return Enrol(w.t, greeter, greetArgs, claimer, link, claimArgs, x)
}

// EnrolUser invites and enrols a new user (see EnrolUser).
func (w *World) EnrolUser(admin *Device, email, profile string, newcomer *Device, name string) (userID, link string) {
	w.t.Helper()
	return EnrolUser(w.t, admin, email, profile, newcomer, name)
}

// EnrolDevice adds a device to a user (see EnrolDevice).
func (w *World) EnrolDevice(existing, newDevice *Device, label string) (userID string) {
	w.t.Helper()
	return EnrolDevice(w.t, existing, newDevice, label)
}

// Organisation is a running server with one organisation, bootstrapped by
// its first administrator.
type Organisation struct {
	Server        *Server
	ID            string
	BootstrapLink string
	Admin         *Device
}

// Organisation starts a server on the backend of this run, creates the
// organisation name on it, and bootstraps it from a new device of
// adminName <adminEmail>.
func (w *World) Organisation(name, adminName, adminEmail string) *Organisation {
	w.t.Helper()
	o := &Organisation{Server: w.Server(testbackend.New(w.t))}
	o.ID, o.BootstrapLink = o.Server.CreateOrg(name)
	o.Admin = w.Device(strings.ToLower(adminName))
	o.Admin.Bootstrap(o.BootstrapLink, adminName, adminEmail)
	return o
}
