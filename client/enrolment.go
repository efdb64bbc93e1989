package client

import (
	"context"
	"strings"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Enrolment (SPEC.md §5) is run by two devices, the greeter (greeter.go)
// and the claimer (claimer.go), through the server's relay (relay.go), for
// an invitation (invitations.go). This file holds what both sides share:
// how they talk to their person, the commitment and transcript, and the
// comparison of codes (step 3).

// Prompter is how an enrolment talks to the person at each end: it shows
// this side's code, asks for the code the other person reads aloud, and
// lets the greeter check who is joining before anything is signed.
type Prompter interface {
	ShowCode(code string)
	PeerCode(ctx context.Context) (string, error)
	ConfirmClaimer(ctx context.Context, c Claimer) (bool, error)
	Progress(msg string)
}

// PassphrasePrompter is a Prompter that can also ask the claimer for the
// new device's passphrase at the end (Claim with no
// ClaimOptions.Passphrase), once the codes matched and the greeter
// confirmed: first run is link, codes, then passphrase. refused is why
// the last passphrase given was refused (nil the first time); the
// passphrase is asked again until it follows the rules. An error abandons
// the claim: Claim then fails with ErrClaimedWithoutKey.
type PassphrasePrompter interface {
	Prompter
	NewPassphrase(ctx context.Context, refused error) ([]byte, error)
}

// What the two sides wait for, in their Progress messages: a front end
// may add how the other person does it.
const (
	WaitingForClaimer = "waiting for the invited person to open the link"
	WaitingForGreeter = "for the greeter to start"
)

// Claimer is who asks to join, as the greeter sees it once the codes matched.
type Claimer struct {
	Name, Email, DeviceLabel string
	Profile                  string // for a new user: the profile they will get
}

// commitment is what a claimer sends before revealing its nonce (step 3.1).
func commitment(nonce []byte) []byte {
	d := crypto.LabeledSum("enrolment-commitment", nonce)
	return d[:]
}

// transcript binds the channel to the invitation and both sides' keys and
// nonces (step 3.4).
func transcript(invID string, claimerKey, greeterKey, claimerNonce, greeterNonce []byte) []byte {
	d := crypto.LabeledSum("enrolment-transcript", []byte(invID), claimerKey, greeterKey, claimerNonce, greeterNonce)
	return d[:]
}

// compareCodes is step 3.6–3.7, on either side: it shows this side's code,
// asks for the peer's, and tells the peer the result. A mismatch aborts
// the attempt on both sides.
func compareCodes(ctx context.Context, r *relayEnd, p Prompter, mine, theirs string) error {
	p.ShowCode(mine)
	typed, err := p.PeerCode(ctx)
	if err != nil {
		return err
	}
	if !crypto.Equal([]byte(normaliseCode(typed)), []byte(theirs)) {
		r.abort()
		return ErrSASMismatch
	}
	if err := r.post(ctx, 3, &coffrev1.SASResult{Ok: true}); err != nil {
		return err
	}
	var res coffrev1.SASResult
	if err := r.wait(ctx, 3, &res); err != nil {
		return err
	}
	if !res.GetOk() {
		r.abort()
		return ErrSASMismatch
	}
	return nil
}

// normaliseCode is a code as typed, without spaces, in capitals.
func normaliseCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}
