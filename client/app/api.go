package app

import (
	"net/http"

	"github.com/coffre/coffre/client"
)

// routes registers the JSON API (docs/SPEC.md §14 lists it).
func (a *App) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/identity", a.identity)
}

// identity answers who this device is.
func (a *App) identity(w http.ResponseWriter, r *http.Request) {
	var id client.Identity
	err := a.withSession(r.Context(), func(s *client.Session) error {
		id = s.Identity()
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, id)
}
