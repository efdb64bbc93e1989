package app

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

// A code exchange (SPEC.md §5) is driven from the interface on both sides
// of an enrolment, the greeter's (api_greet.go) and the claimer's
// (api_enrol.go): the library's Greet or Claim runs in the background
// with an exchange as its Prompter, which blocks until the person answers
// through the API, and the interface polls the exchange's state to show
// the codes and what is asked.

// The steps of an exchange, as its state says.
const (
	stepReady   = "ready"   // claimer: the link is read, waiting for start
	stepWaiting = "waiting" // for the other side (progress says what)
	stepCode    = "code"    // show code, and type the other person's
	stepConfirm = "confirm" // greeter: check who is joining (claimer)
	// claimer: the greeter confirmed; choose the new device's passphrase
	stepPassphrase = "passphrase"
	stepDone       = "done"   // result says what was enrolled
	stepFailed     = "failed" // error says why
)

// exchangeLife bounds an exchange: the library's own waits are shorter
// (client.DefaultGreeterWait per step).
const exchangeLife = 30 * time.Minute

// keepEnded is how long an ended exchange can still be polled.
const keepEnded = 15 * time.Minute

// exchangeJSON is an exchange's state, as polled.
type exchangeJSON struct {
	ID       string `json:"id"`
	Side     string `json:"side"` // greeter or claimer
	Step     string `json:"step"`
	Progress string `json:"progress,omitempty"`
	// Code is this side's code, to read to the other person.
	Code string `json:"code,omitempty"`
	// Claimer is who asks to join, shown to the greeter at step confirm.
	Claimer *claimerJSON `json:"claimer,omitempty"`
	// Invitation is what the claimer's link is for.
	Invitation *claimInfoJSON `json:"invitation,omitempty"`
	Result     any            `json:"result,omitempty"`
	Error      *apiError      `json:"error,omitempty"`
}

type claimerJSON struct {
	Name        string `json:"name"`
	Email       string `json:"email,omitempty"`
	DeviceLabel string `json:"deviceLabel"`
	Profile     string `json:"profile,omitempty"`
}

// exchangeAnswer is what the person answers: the other side's code, or
// whether the claimer may join.
type exchangeAnswer struct {
	Code    *string `json:"code"`
	Confirm *bool   `json:"confirm"`
	// pass is the claimer's new passphrase, given by its own call
	// (api_enrol.go's choosePassphrase), never through answer's JSON.
	pass []byte
}

// exchange is one running code exchange; it is the client.Prompter of
// the Greet or Claim it runs.
type exchange struct {
	answers chan exchangeAnswer // capacity 1: the step admits one answer
	cancel  context.CancelFunc
	link    link.Link // the claimer's: the invitation link it claims

	mu    sync.Mutex
	state exchangeJSON
	ended time.Time
}

func newExchange(side, step string) *exchange {
	return &exchange{answers: make(chan exchangeAnswer, 1), cancel: func() {},
		state: exchangeJSON{ID: certificate.NewID(), Side: side, Step: step}}
}

// snapshot returns the state to answer a poll with.
func (e *exchange) snapshot() exchangeJSON {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

func (e *exchange) update(fn func(*exchangeJSON)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(&e.state)
}

// start runs fn in the background with a context of its own (the request
// that started it ends at once), if the exchange is still at step from;
// fn's result or error ends the exchange.
func (e *exchange) start(from string, fn func(ctx context.Context) (any, error)) error {
	e.mu.Lock()
	if e.state.Step != from {
		e.mu.Unlock()
		return errExchangeStep
	}
	ctx, cancel := context.WithTimeout(context.Background(), exchangeLife)
	e.cancel = cancel
	e.state.Step, e.state.Progress = stepWaiting, ""
	e.mu.Unlock()
	go func() {
		defer cancel()
		res, err := fn(ctx)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.ended = time.Now()
		e.state.Code, e.state.Claimer, e.state.Progress = "", nil, ""
		if err != nil {
			_, code := errorCode(err)
			switch ctx.Err() { // the library's words for it vary
			case context.Canceled:
				code = "cancelled"
			case context.DeadlineExceeded:
				code = "timeout"
			}
			if errors.Is(err, client.ErrClaimedWithoutKey) { // worse than a cancel: say it
				code = "claimed_without_key"
			}
			e.state.Step, e.state.Error = stepFailed, &apiError{Code: code, Message: err.Error()}
			return
		}
		e.state.Step, e.state.Result = stepDone, res
	}()
	return nil
}

// answer passes the person's answer to the step waiting for it.
func (e *exchange) answer(a exchangeAnswer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.state.Step == stepCode && a.Code != nil && a.Confirm == nil && a.pass == nil:
	case e.state.Step == stepConfirm && a.Confirm != nil && a.Code == nil && a.pass == nil:
	case e.state.Step == stepPassphrase && a.pass != nil && a.Code == nil && a.Confirm == nil:
	default:
		return errExchangeStep
	}
	e.state.Step, e.state.Progress = stepWaiting, ""
	e.answers <- a // the capacity of 1 is free: the step took the last one
	return nil
}

// ask shows step and waits for the person's answer.
func (e *exchange) ask(ctx context.Context, step string, fn func(*exchangeJSON)) (exchangeAnswer, error) {
	e.update(func(st *exchangeJSON) {
		st.Step = step
		fn(st)
	})
	select {
	case a := <-e.answers:
		return a, nil
	case <-ctx.Done():
		return exchangeAnswer{}, ctx.Err()
	}
}

// The client.Prompter of the exchange's Greet or Claim.

func (e *exchange) ShowCode(code string) { e.update(func(st *exchangeJSON) { st.Code = code }) }

func (e *exchange) PeerCode(ctx context.Context) (string, error) {
	a, err := e.ask(ctx, stepCode, func(*exchangeJSON) {})
	if err != nil {
		return "", err
	}
	return *a.Code, nil
}

func (e *exchange) ConfirmClaimer(ctx context.Context, c client.Claimer) (bool, error) {
	a, err := e.ask(ctx, stepConfirm, func(st *exchangeJSON) {
		st.Claimer = &claimerJSON{Name: c.Name, Email: c.Email, DeviceLabel: c.DeviceLabel, Profile: c.Profile}
	})
	if err != nil {
		return false, err
	}
	return *a.Confirm, nil
}

// NewPassphrase asks the claimer for the new device's passphrase, last
// (client.PassphrasePrompter); refused, if any, is why the last one was
// refused, shown as the step's progress.
func (e *exchange) NewPassphrase(ctx context.Context, refused error) ([]byte, error) {
	a, err := e.ask(ctx, stepPassphrase, func(st *exchangeJSON) {
		st.Code, st.Progress = "", ""
		if refused != nil {
			st.Progress = refused.Error()
		}
	})
	if err != nil {
		return nil, err
	}
	return a.pass, nil
}

func (e *exchange) Progress(msg string) {
	e.update(func(st *exchangeJSON) { st.Step, st.Progress = stepWaiting, msg })
}

// exchanges are the exchanges of one side that this app runs, by id.
type exchanges struct {
	mu sync.Mutex
	m  map[string]*exchange
}

// add keeps e, and forgets the exchanges that ended long enough ago.
func (x *exchanges) add(e *exchange) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		x.m = map[string]*exchange{}
	}
	for id, old := range x.m {
		old.mu.Lock()
		gone := !old.ended.IsZero() && time.Since(old.ended) > keepEnded
		old.mu.Unlock()
		if gone {
			delete(x.m, id)
		}
	}
	x.m[e.state.ID] = e
}

// get returns the exchange whose id the request's path names.
func (x *exchanges) get(r *http.Request) (*exchange, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.m[r.PathValue("id")]
	if !ok {
		return nil, errNoSuchExchange
	}
	return e, nil
}

// all returns every exchange kept.
func (x *exchanges) all() []*exchange {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]*exchange, 0, len(x.m))
	for _, e := range x.m {
		out = append(out, e)
	}
	return out
}

// poll, answerCall and cancelCall are the calls common to both sides.

func (x *exchanges) poll(r *http.Request) (any, error) {
	e, err := x.get(r)
	if err != nil {
		return nil, err
	}
	return e.snapshot(), nil
}

func (x *exchanges) answerCall(r *http.Request) (any, error) {
	e, err := x.get(r)
	if err != nil {
		return nil, err
	}
	var a exchangeAnswer
	if err := readJSON(r, &a); err != nil {
		return nil, err
	}
	if err := e.answer(a); err != nil {
		return nil, err
	}
	return e.snapshot(), nil
}

// cancelCall stops an exchange: the library aborts the attempt on the
// server, so the other side stops too.
func (x *exchanges) cancelCall(r *http.Request) (any, error) {
	e, err := x.get(r)
	if err != nil {
		return nil, err
	}
	e.cancel()
	e.mu.Lock()
	if e.state.Step == stepReady { // never started: nothing runs to end it
		e.state.Step, e.ended = stepFailed, time.Now()
		e.state.Error = &apiError{Code: "cancelled", Message: "cancelled"}
	}
	e.mu.Unlock()
	return e.snapshot(), nil
}
