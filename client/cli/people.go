package cli

import "github.com/coffre/coffre/certificate"

// How people are printed. A user whose identity this device was not sent
// (an outsider's view of someone it shares no vault with, or an opening
// the server withheld: SPEC.md §17) is shown by id, never as an empty
// name.

// unknownPerson is a user whose name and email this device doesn't know.
func unknownPerson(id string) string { return "unknown member (id " + id + ")" }

// person is "name <email>", or unknownPerson.
func person(u *certificate.User) string {
	if u.Unknown() {
		return unknownPerson(u.ID)
	}
	return shown(u.Name) + " <" + shown(u.Email) + ">"
}

// personEmail is the user's email, or unknownPerson.
func personEmail(u *certificate.User) string {
	if u.Unknown() {
		return unknownPerson(u.ID)
	}
	return u.Email
}
