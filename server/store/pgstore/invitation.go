package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/server/store"
)

const invColumns = `org_id, id, token_hash, kind, email, user_id, profile, created_by, created_at, expires_at, state, attempts`

// CreateInvitation records inv; its id and its token hash are each unique
// within the organisation.
func (s *Store) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	if inv.ID == "" || len(inv.TokenHash) == 0 {
		return fmt.Errorf("creating invitation %q: empty id or token hash", inv.ID)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error { return insertInvitation(ctx, tx, inv) })
	if err != nil {
		return fmt.Errorf("creating invitation %s in %s: %w", inv.ID, inv.OrgID, err)
	}
	return nil
}

// insertInvitation is CreateInvitation in tx, which Restore shares.
func insertInvitation(ctx context.Context, tx pgx.Tx, inv store.Invitation) error {
	_, err := tx.Exec(ctx, `INSERT INTO invitations (`+invColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		inv.OrgID, inv.ID, inv.TokenHash, inv.Kind, inv.Email, inv.UserID, inv.Profile, inv.CreatedBy,
		timestamptz(inv.CreatedAt), timestamptz(inv.ExpiresAt), string(inv.State), inv.Attempts)
	return invitationError(err)
}

// invitationError turns the constraint violations of writing an invitation
// into store errors.
func invitationError(err error) error {
	if e, ok := pgError(err, uniqueViolation); ok {
		if e.ConstraintName == "invitations_token_hash" {
			return fmt.Errorf("token hash: %w", store.ErrExists)
		}
		return store.ErrExists
	}
	if _, ok := pgError(err, foreignKeyViolation); ok {
		return fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	return err
}

// Invitation returns one invitation by id.
func (s *Store) Invitation(ctx context.Context, orgID, id string) (store.Invitation, error) {
	inv, err := s.oneInvitation(ctx, orgID, `id = $2`, id)
	if err != nil {
		return store.Invitation{}, fmt.Errorf("reading invitation %s of %s: %w", id, orgID, err)
	}
	return inv, nil
}

// InvitationByToken returns the invitation whose token hash is tokenHash.
func (s *Store) InvitationByToken(ctx context.Context, orgID string, tokenHash []byte) (store.Invitation, error) {
	inv, err := s.oneInvitation(ctx, orgID, `token_hash = $2`, tokenHash)
	if err != nil {
		return store.Invitation{}, fmt.Errorf("reading invitation by token of %s: %w", orgID, err)
	}
	return inv, nil
}

// oneInvitation returns the invitation of orgID where cond holds of arg.
func (s *Store) oneInvitation(ctx context.Context, orgID, cond string, arg any) (store.Invitation, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+invColumns+` FROM invitations WHERE org_id = $1 AND `+cond, orgID, arg)
	inv, err := scanInvitation(row)
	if errors.Is(err, pgx.ErrNoRows) {
		if err := checkOrg(ctx, s.pool, orgID); err != nil {
			return store.Invitation{}, err
		}
		return store.Invitation{}, fmt.Errorf("invitation %w", store.ErrNotFound)
	}
	return inv, err
}

// Invitations lists an organisation's invitations, oldest first (and by id
// when as old).
func (s *Store) Invitations(ctx context.Context, orgID string) ([]store.Invitation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+invColumns+` FROM invitations WHERE org_id = $1 ORDER BY created_at NULLS FIRST, id`, orgID)
	var invs []store.Invitation
	if err == nil {
		invs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Invitation, error) { return scanInvitation(row) })
	}
	if err == nil && len(invs) == 0 {
		invs, err = nil, checkOrg(ctx, s.pool, orgID)
	}
	if err != nil {
		return nil, fmt.Errorf("listing invitations of %s: %w", orgID, err)
	}
	return invs, nil
}

// UpdateInvitation applies fn to one invitation, locked until the change
// is written.
func (s *Store) UpdateInvitation(ctx context.Context, orgID, id string, fn func(*store.Invitation) error) (store.Invitation, error) {
	var inv store.Invitation
	var fnErr error
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		inv, err = updateInvitation(ctx, tx, orgID, id, func(i *store.Invitation) error {
			fnErr = fn(i)
			return fnErr
		})
		return err
	})
	switch {
	case fnErr != nil:
		return store.Invitation{}, fnErr
	case err != nil:
		return store.Invitation{}, fmt.Errorf("updating invitation %s of %s: %w", id, orgID, err)
	}
	return inv, nil
}

// updateInvitation reads one invitation FOR UPDATE, applies fn and writes
// the result, in tx.
func updateInvitation(ctx context.Context, tx pgx.Tx, orgID, id string, fn func(*store.Invitation) error) (store.Invitation, error) {
	row := tx.QueryRow(ctx, `SELECT `+invColumns+` FROM invitations WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id)
	inv, err := scanInvitation(row)
	if errors.Is(err, pgx.ErrNoRows) {
		if err := checkOrg(ctx, tx, orgID); err != nil {
			return store.Invitation{}, err
		}
		return store.Invitation{}, fmt.Errorf("invitation %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Invitation{}, err
	}
	if err := fn(&inv); err != nil {
		return store.Invitation{}, err
	}
	if inv.ID != id || inv.OrgID != orgID {
		return store.Invitation{}, errors.New("an invitation's id and organisation cannot change")
	}
	if len(inv.TokenHash) == 0 {
		return store.Invitation{}, errors.New("empty token hash")
	}
	_, err = tx.Exec(ctx, `UPDATE invitations SET token_hash = $3, kind = $4, email = $5, user_id = $6, profile = $7,
		created_by = $8, created_at = $9, expires_at = $10, state = $11, attempts = $12 WHERE org_id = $1 AND id = $2`,
		orgID, id, inv.TokenHash, inv.Kind, inv.Email, inv.UserID, inv.Profile, inv.CreatedBy,
		timestamptz(inv.CreatedAt), timestamptz(inv.ExpiresAt), string(inv.State), inv.Attempts)
	if err := invitationError(err); err != nil {
		return store.Invitation{}, err
	}
	return inv, nil
}

func scanInvitation(row pgx.Row) (store.Invitation, error) {
	var inv store.Invitation
	var created, expires pgtype.Timestamptz
	var state string
	err := row.Scan(&inv.OrgID, &inv.ID, &inv.TokenHash, &inv.Kind, &inv.Email, &inv.UserID, &inv.Profile, &inv.CreatedBy,
		&created, &expires, &state, &inv.Attempts)
	if err != nil {
		return store.Invitation{}, err
	}
	inv.CreatedAt, inv.ExpiresAt, inv.State = fromTimestamptz(created), fromTimestamptz(expires), store.InvitationState(state)
	return inv, nil
}
