package app

import "github.com/coffre/coffre/client"

// enrolled makes a device just enrolled from the interface (api_enrol.go)
// the app's: its keys, and the verified session its claim left open,
// which the next call uses. It is all the enrolment changes in the App:
// whatever else runs with the keys (the sync service, the server's
// events, the idle lock) reads App.Keys as it does after an unlock.
func (a *App) enrolled(keys *client.Unlocked, s *client.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeSessionLocked()
	a.Keys, a.sess = keys, s
}
