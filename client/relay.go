package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// The relay (SPEC.md §5 step 3, §6.2): each side of an enrolment posts its
// messages to the server and waits for the peer's; from relay step 3 on
// they are sealed in the channel, the server sees opaque bytes.

// relayEnd is one side of an enrolment attempt through the server's relay.
type relayEnd struct {
	api      coffrev1.CoffreServiceClient
	address  string
	orgID    string
	invID    string // greeter
	token    []byte // claimer
	side     coffrev1.RelaySide
	attempt  uint32
	channel  *crypto.Channel
	finished bool
	// patience, when set, is how long one wait for the peer may last
	// (the claimer's; the greeter waits until its context ends).
	patience time.Duration
	// sleep, when set, replaces the pause between relay calls (tests).
	sleep func(ctx context.Context, d time.Duration) error
}

// The server holds each RelayWait for up to 20 seconds before answering "not
// yet", but a server that answers at once must not make the client spin:
// calls start at least relayPause apart, doubling up to relayMaxPause.
const (
	relayPause    = 100 * time.Millisecond
	relayMaxPause = 5 * time.Second
)

// pause returns how long to wait before the next call, given the pause
// due and how long the last call took, and the pause due after that.
func pause(due, took time.Duration) (wait, next time.Duration) {
	return max(due-took, 0), min(2*due, relayMaxPause)
}

func (r *relayEnd) pauseFor(ctx context.Context, d time.Duration) error {
	if r.sleep != nil {
		return r.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *relayEnd) post(ctx context.Context, step uint32, m proto.Message) error {
	payload, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if r.channel != nil {
		// Sealed messages name their side and step, so the relay can't
		// replay one in another place.
		payload = r.channel.Seal(append([]byte{byte(r.side), byte(step)}, payload...))
	}
	resp, err := r.api.RelayPost(ctx, &coffrev1.RelayPostRequest{
		OrganisationId: r.orgID, Token: r.token, InvitationId: r.invID,
		Side: r.side, Attempt: r.attempt, Step: step, Payload: payload,
	})
	if err != nil {
		return fromServer(r.address, err)
	}
	r.attempt = resp.GetAttempt()
	return nil
}

// wait waits for the peer's message of a step, however long the people
// take, until ctx ends or, with patience set, for that long at most; then
// it says what it was waiting for (ErrGreeterTimeout).
func (r *relayEnd) wait(ctx context.Context, step uint32, m proto.Message) error {
	if r.patience <= 0 {
		return r.waitPeer(ctx, step, m)
	}
	wctx, cancel := context.WithTimeout(ctx, r.patience)
	defer cancel()
	err := r.waitPeer(wctx, step, m)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		if step == recoveryAckStep {
			return fmt.Errorf("waited %s for %s: %w", r.patience, greeterSteps[step], ErrShareUnacknowledged)
		}
		return fmt.Errorf("waited %s for %s: %w", r.patience, greeterSteps[step], ErrGreeterTimeout)
	}
	return err
}

// recoveryAckStep is the step at which a member who sent its share waits
// for the person's acknowledgement (SPEC.md §15.6).
const recoveryAckStep = 6

// ErrShareUnacknowledged: a member sent its share of a recovery, and the
// person did not say they received it in time.
var ErrShareUnacknowledged = errors.New("your share was sent but the person recovering did not acknowledge it: ask them whether their recovery went on (nothing else is needed from you unless they ask again)")

// greeterSteps is what a claimer waits for at each relay step.
var greeterSteps = map[uint32]string{
	1:               "the greeter to start greeting this invitation",
	3:               "the greeter to type your code",
	5:               "the greeter to confirm and publish your certificates",
	recoveryAckStep: "the person recovering to acknowledge the share", // the member's wait (SPEC.md §15.6)
}

func (r *relayEnd) waitPeer(ctx context.Context, step uint32, m proto.Message) error {
	peer := coffrev1.RelaySide_RELAY_SIDE_CLAIMER
	if r.side == coffrev1.RelaySide_RELAY_SIDE_CLAIMER {
		peer = coffrev1.RelaySide_RELAY_SIDE_GREETER
	}
	due := relayPause
	for {
		start := time.Now()
		resp, err := r.api.RelayWait(ctx, &coffrev1.RelayWaitRequest{
			OrganisationId: r.orgID, Token: r.token, InvitationId: r.invID,
			Side: peer, Attempt: r.attempt, Step: step,
		})
		if err != nil {
			// The server ends a call at ctx's deadline (sent with the
			// call) a moment before this side's timer: wait for it, so
			// the caller sees ctx's end, not an unreachable server.
			if dl, ok := ctx.Deadline(); ok && status.Code(err) == codes.DeadlineExceeded && time.Until(dl) < time.Second {
				<-ctx.Done()
				return ctx.Err()
			}
			return fromServer(r.address, err)
		}
		if !resp.GetFound() {
			var d time.Duration
			d, due = pause(due, time.Since(start))
			if err := r.pauseFor(ctx, d); err != nil {
				return err
			}
			continue
		}
		r.attempt = resp.GetAttempt()
		payload := resp.GetPayload()
		if r.channel != nil {
			if payload, err = r.channel.Open(payload); err != nil || len(payload) < 2 ||
				payload[0] != byte(peer) || payload[1] != byte(step) {
				return ErrEnrolmentBroken
			}
			payload = payload[2:]
		}
		if err := proto.Unmarshal(payload, m); err != nil {
			return ErrEnrolmentBroken
		}
		return nil
	}
}

// abort burns the attempt on the server, so both sides stop. It is called
// with a fresh context: the caller's may be the reason for aborting.
func (r *relayEnd) abort() {
	if r.finished || r.attempt == 0 {
		return
	}
	r.finished = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.api.RelayPost(ctx, &coffrev1.RelayPostRequest{
		OrganisationId: r.orgID, Token: r.token, InvitationId: r.invID,
		Side: r.side, Attempt: r.attempt, Abort: true,
	})
}
