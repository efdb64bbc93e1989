package client

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coffre/coffre/wire"
)

// Errors a caller of this package can test for. Server-side errors arrive
// as the wire package's errors (wire.ErrForbidden and the rest); this file
// is the one place where gRPC statuses are turned back into them. Errors
// defined lower down are returned as they are, never re-exported: a wrong
// passphrase is crypto.ErrWrongPassphrase; a log rollback or fork, the
// organisation's or a vault's, certificate.ErrRollback or ErrFork.
var (
	// ErrNoDevice is returned by Open and Unlock when the data directory
	// holds no device yet (bootstrap or claim an invitation first).
	ErrNoDevice = errors.New("no device in this data directory")
	// ErrLocked is returned by an Unlocked whose keys were forgotten
	// (Lock), until Relock gives them back.
	ErrLocked = errors.New("locked: give the passphrase again")
	// ErrFirstSync is returned by Bootstrap when the organisation was
	// bootstrapped but the first sync that followed failed: the device is
	// enrolled, and the next Sync retries. It wraps the cause.
	ErrFirstSync = errors.New("bootstrapped, but the first sync failed")
	// ErrAnchorFailed is returned after a certificate that needs a
	// checkpoint in the vault log (CreateVault, RotateVault, ShareVault
	// with a key, UnshareVault) when the checkpoint could not be written:
	// the certificate is published, and PrepareVault retries the anchor
	// (SPEC.md §11.5). It wraps the cause.
	ErrAnchorFailed = errors.New("the vault's certificate is published, but anchoring its log failed")
	// ErrCheckpointDue is returned by OpenVault, with workspace.ErrWithheld,
	// when the vault log lacks the checkpoint after the vault's anchor and
	// this user may write it: opening never writes, PrepareVault does
	// (SPEC.md §11.5).
	ErrCheckpointDue = errors.New("the vault log lacks its checkpoint, which this user may write")
	// ErrInvitationLife: an invitation was asked for with no time to live
	// (zero or negative), which must not silently become the default.
	ErrInvitationLife = errors.New("an invitation must stay valid for a positive time")
	// ErrInvitationPending is returned by InviteUser when the email already
	// has an invitation that can still be claimed; ReplaceUserInvitation
	// cancels it and invites again.
	ErrInvitationPending = errors.New("there is already a pending invitation")
	// ErrGreeterTimeout is returned by Claim when the greeter did not
	// answer within ClaimOptions.Wait at a step; the message says what it
	// was waiting for. Nothing was enrolled, and the attempt is aborted.
	ErrGreeterTimeout = errors.New("the greeter did not answer in time: nothing was enrolled")
	// ErrClaimedWithoutKey is returned by Claim when the claimer abandoned
	// (or the context ended) at the passphrase, asked last: the greeter
	// has published the enrolment on the server, but this device wrote no
	// key file and can never use it. A new invitation is needed.
	ErrClaimedWithoutKey = errors.New("enrolled on the server, but no passphrase was chosen, so this device has no key file and can't use it: ask for a new invitation")
	// ErrAlreadyEnrolled: the data directory already holds a device.
	ErrAlreadyEnrolled = errors.New("this data directory already holds a device: use another --home")
	// ErrCorruptState: the local state file is damaged or was edited.
	ErrCorruptState = errors.New("local state is damaged")
	// ErrServerUnavailable: the server can't be reached; nothing changed.
	ErrServerUnavailable = errors.New("cannot reach the server: nothing was changed, try again later")
	// ErrNotAdmin: the command needs an administrator.
	ErrNotAdmin = errors.New("only an administrator can do this")
	// ErrNotAllowed: the change breaks a rule of the organisation or vault
	// (SPEC.md §3.3, §11.1); the message says which.
	ErrNotAllowed = errors.New("not allowed")
	// ErrAmbiguousVault: several of this user's vaults have the name given.
	ErrAmbiguousVault = errors.New("name it by its id")
	// ErrAmbiguousInvitation: several pending invitations match.
	ErrAmbiguousInvitation = errors.New("name one by its id")
	// ErrUnknownUser: no such user in the verified log.
	ErrUnknownUser = errors.New("no such user")
	// ErrSASMismatch: the code typed is not the one the other side shows.
	ErrSASMismatch = errors.New("the codes do not match: enrolment aborted (someone may be in the middle); start again")
	// ErrEnrolmentBroken: the other side sent something that does not
	// check out; the attempt was aborted.
	ErrEnrolmentBroken = errors.New("enrolment aborted: the other side's messages do not check out")
	// ErrBadLog: the server's log does not verify from the root key.
	ErrBadLog = errors.New("the server's organisation log does not verify")
	// ErrBadBlocks: the server answered a GetBlocks with other blocks than
	// were asked for (another id, one left out, none at all).
	ErrBadBlocks = errors.New("the server's answer does not hold the blocks asked for")
	// ErrNotManager: only an owner or a manager of the vault may do this
	// (share, unshare, rotate the key); the message says what.
	ErrNotManager = errors.New("only an owner or a manager can do this")
	// ErrSelf: an administrator's change that can't be made to oneself
	// (revoke, change the profile); another administrator must.
	ErrSelf = errors.New("you can't do this to yourself: ask another administrator")
	// ErrUserRevoked: the user named is revoked (nothing can be given to
	// them, and they can't be revoked again).
	ErrUserRevoked = errors.New("the user is revoked")
	// ErrNotVaultMember: the user named is not a member of the vault.
	ErrNotVaultMember = errors.New("the user is not a member of this vault")
	// ErrOutsider: outsiders can't create vaults (SPEC.md §3.3).
	ErrOutsider = errors.New("outsiders can't create vaults")
)

// refusal is a refusal whose sentence is its own, and that errors.Is
// matches to its sentinel (so the API gives it a code).
type refusal struct {
	msg string
	err error
}

func (r refusal) Error() string { return r.msg }
func (r refusal) Unwrap() error { return r.err }

// refuse returns a refusal of kind err saying msg.
func refuse(err error, format string, args ...any) error {
	return refusal{msg: fmt.Sprintf(format, args...), err: err}
}

// fromServer maps an error returned by a gRPC call.
func fromServer(address string, err error) error {
	if err == nil {
		return nil
	}
	if w := wire.FromStatus(err); w != err {
		return w
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return fmt.Errorf("%w (%s)", ErrServerUnavailable, address)
		case codes.Canceled:
			return fmt.Errorf("cancelled")
		}
		return fmt.Errorf("server %s: %s", address, st.Message())
	}
	return err
}
