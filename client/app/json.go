package app

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/coffre/coffre/client"
)

// apiError is the body of every failed API call: a stable code the web
// interface translates, and the English sentence the command line prints.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeJSON answers v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// writeError answers err with the HTTP status and code its sentinel means.
func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "internal"
	switch {
	case errors.Is(err, client.ErrLocked):
		status, code = http.StatusLocked, "locked"
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Code: code, Message: err.Error()})
}
