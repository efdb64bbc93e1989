package cli

import (
	"errors"
	"strings"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/transfer"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// hints say what to run next after a library error. The library's errors
// name no command; here each sentinel's text is followed, where it appears
// in a message, by the hint: the one place where the command line talks
// about itself in an error.
var hints = []struct {
	err  error
	hint string
}{
	{client.ErrNoDevice, ": run 'coffre org bootstrap LINK' or 'coffre invitation claim LINK' first"},
	{client.ErrLocked, " (coffre unlock)"},
	{client.ErrFirstSync, " (run 'coffre status' to retry)"},
	{client.ErrAnchorFailed, " (run 'coffre ls' on it to retry)"},
	{client.ErrInvitationPending, " (greet it with 'coffre user greet EMAIL', or invite again with --replace to cancel it)"},
	{client.ErrGreeterTimeout, " (ask the person who invited you to run 'coffre user greet' or 'coffre device greet', then claim the link again)"},
	{client.ErrNotFresh, " (try again; if it persists, compare `coffre status` with another member)"},
	{workspace.ErrLocalExists, " (get --force replaces local files)"},
	{workspace.ErrNotInTrash, " (coffre trash lists what can be brought back)"},
	{client.ErrServerMisbehaved, " (kept as proof: run coffre audit --verify and tell your administrator)"},
	{workspace.ErrNotEmpty, " (coffre rm -r removes it with everything in it)"},
	{transfer.ErrNoVaultFolder, " (coffre mkdir -p makes it)"},
	{app.ErrRunning, " (open its interface: coffre app open)"},
	{client.ErrKeyNotReleased, " (a member of the vault releases it when they next work in the vault: ask one to run 'coffre ls' on it)"},
	{workspace.ErrNoVersion, " (coffre history lists them)"},
	{workspace.ErrRemoved, " (coffre trash lists it, coffre undelete brings it back)"},
	{client.ErrNoSealKeyDevice, " ('coffre device invite' on a remaining device, claim the link on the new one, then 'coffre device revoke' each old one)"},
	{vaultlog.ErrRotationPending, " (an owner or manager runs 'coffre vault rotate')"},
	{client.ErrAmbiguousVault, " (coffre vault list shows the ids)"},
	{client.ErrAmbiguousInvitation, " (coffre invitation list shows them)"},
	{client.ErrNoSharedRecovery, " (they set one up with 'coffre device recovery share')"},
	{client.ErrTooFewShares, " (each runs 'coffre device recovery assist YOUR-EMAIL'; claim their links with 'coffre device recovery claim')"},
}

// progressHints say how the other person does what an enrolment waits
// for (client.Prompter's Progress).
var progressHints = []struct{ text, hint string }{
	{client.WaitingForClaimer, " (they run 'coffre invitation claim LINK')"},
	{client.WaitingForGreeter, " (they run 'coffre user greet' or 'coffre device greet')"},
}

// progress is an enrolment's progress message with its hint.
func progress(msg string) string {
	for _, h := range progressHints {
		if strings.Contains(msg, h.text) && !strings.Contains(msg, h.text+h.hint) {
			msg = strings.Replace(msg, h.text, h.text+h.hint, 1)
		}
	}
	return msg
}

// message is err's message as the person reads it, with its hints.
func message(err error) string {
	msg := err.Error()
	for _, h := range hints {
		if errors.Is(err, h.err) {
			msg = withHint(msg, h.err, h.hint)
		}
	}
	return msg
}

// hinted adds the hints to an error kept as text (a sync's last error, in
// its status file), where errors.Is can't look.
func hinted(msg string) string {
	for _, h := range hints {
		msg = withHint(msg, h.err, h.hint)
	}
	return msg
}

func withHint(msg string, err error, hint string) string {
	text := err.Error()
	if strings.Contains(msg, text+hint) {
		return msg
	}
	return strings.Replace(msg, text, text+hint, 1)
}
