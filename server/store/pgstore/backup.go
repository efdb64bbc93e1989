package pgstore

// A backup is a logical dump in JSON lines: one JSON object per line,
// readable with any JSON tool and independent of the schema version.
//
//	{"format":"coffre-pgstore-backup","version":1}
//	{"organisation":{"id":…,"name":…,"bootstrap_token_hash":…,"root_verify_key":…,"created_at":…,"bootstrapped_at":…}}
//	{"entry":{"org_id":…,"log_id":…,"position":…,"prev_hash":…,"hash":…,"data":…,"received_at":…}}
//	{"invitation":{"org_id":…,"id":…,"token_hash":…,"kind":…,…,"state":…,"attempts":…}}
//	{"connection":{"org_id":…,"device_id":…,"time":…,"address":…}}
//	{"end":{"records":N}}
//
// The header comes first, then every organisation by id, every log entry
// by organisation, log and position (log_id "" is the organisation log,
// any other a vault's), every invitation, every connection, and last the
// end record, which counts the records between it and the header: a dump
// cut short has none and is refused. Byte strings are base64 (standard,
// padded), times RFC 3339 in UTC with up to microseconds; a field that is
// absent is empty, or the zero time.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/server/store"
)

const (
	backupFormat  = "coffre-pgstore-backup"
	backupVersion = 1
)

// IsBackup says whether head, the first bytes of a file, looks like a dump
// written by Backup; Restore checks it.
func IsBackup(head []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte(`{"format"`))
}

type backupHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// backupRecord is one line after the header: exactly one field is set.
type backupRecord struct {
	Organisation *backupOrganisation `json:"organisation,omitempty"`
	Entry        *backupEntry        `json:"entry,omitempty"`
	Invitation   *backupInvitation   `json:"invitation,omitempty"`
	Connection   *backupConnection   `json:"connection,omitempty"`
	End          *backupEnd          `json:"end,omitempty"`
}

type backupOrganisation struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	BootstrapTokenHash []byte    `json:"bootstrap_token_hash,omitempty"`
	RootVerifyKey      []byte    `json:"root_verify_key,omitempty"`
	CreatedAt          time.Time `json:"created_at,omitzero"`
	BootstrappedAt     time.Time `json:"bootstrapped_at,omitzero"`
	StorageLimit       int64     `json:"storage_limit,omitempty"`
	UserLimit          int       `json:"user_limit,omitempty"`
	UsedBytes          int64     `json:"used_bytes,omitempty"`
}

type backupEntry struct {
	OrgID      string    `json:"org_id"`
	LogID      string    `json:"log_id"`
	Position   uint64    `json:"position"`
	PrevHash   []byte    `json:"prev_hash,omitempty"`
	Hash       []byte    `json:"hash,omitempty"`
	Data       []byte    `json:"data"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

type backupInvitation struct {
	OrgID     string                `json:"org_id"`
	ID        string                `json:"id"`
	TokenHash []byte                `json:"token_hash"`
	Kind      string                `json:"kind"`
	Email     string                `json:"email,omitempty"`
	UserID    string                `json:"user_id,omitempty"`
	Profile   string                `json:"profile,omitempty"`
	CreatedBy string                `json:"created_by"`
	CreatedAt time.Time             `json:"created_at,omitzero"`
	ExpiresAt time.Time             `json:"expires_at,omitzero"`
	State     store.InvitationState `json:"state"`
	Attempts  int                   `json:"attempts,omitempty"`
}

type backupConnection struct {
	OrgID    string    `json:"org_id"`
	DeviceID string    `json:"device_id"`
	Time     time.Time `json:"time"`
	Address  string    `json:"address"`
}

type backupEnd struct {
	Records int `json:"records"`
}

// Backup writes a dump of the whole store to w, from one REPEATABLE READ
// transaction: it is the store at one instant, and writers are not held
// up while it runs.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	records := 0
	put := func(r backupRecord) error {
		records++
		return enc.Encode(r)
	}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		if err := enc.Encode(backupHeader{backupFormat, backupVersion}); err != nil {
			return err
		}
		err := dump(ctx, tx, `SELECT `+orgColumns+` FROM organisations ORDER BY id`,
			func(row pgx.CollectableRow) error {
				o, err := scanOrg(row)
				if err != nil {
					return err
				}
				return put(backupRecord{Organisation: &backupOrganisation{
					o.ID, o.Name, o.BootstrapTokenHash, o.RootVerifyKey, o.CreatedAt, o.BootstrappedAt,
					o.Limits.StorageBytes, o.Limits.Users, o.UsedBytes,
				}})
			})
		if err != nil {
			return fmt.Errorf("organisations: %w", err)
		}
		err = dump(ctx, tx, `SELECT org_id, log_id, position, prev_hash, hash, data, received_at FROM log_entries ORDER BY org_id, log_id, position`,
			func(row pgx.CollectableRow) error {
				var e backupEntry
				var pos int64
				var received pgtype.Timestamptz
				if err := row.Scan(&e.OrgID, &e.LogID, &pos, &e.PrevHash, &e.Hash, &e.Data, &received); err != nil {
					return err
				}
				e.Position, e.ReceivedAt = uint64(pos), fromTimestamptz(received)
				return put(backupRecord{Entry: &e})
			})
		if err != nil {
			return fmt.Errorf("log entries: %w", err)
		}
		err = dump(ctx, tx, `SELECT `+invColumns+` FROM invitations ORDER BY org_id, id`,
			func(row pgx.CollectableRow) error {
				i, err := scanInvitation(row)
				if err != nil {
					return err
				}
				return put(backupRecord{Invitation: &backupInvitation{
					i.OrgID, i.ID, i.TokenHash, i.Kind, i.Email, i.UserID, i.Profile, i.CreatedBy, i.CreatedAt, i.ExpiresAt, i.State, i.Attempts,
				}})
			})
		if err != nil {
			return fmt.Errorf("invitations: %w", err)
		}
		err = dump(ctx, tx, `SELECT org_id, device_id, connected_at, address FROM connections ORDER BY org_id, device_id, connected_at`,
			func(row pgx.CollectableRow) error {
				var c backupConnection
				var at pgtype.Timestamptz
				if err := row.Scan(&c.OrgID, &c.DeviceID, &at, &c.Address); err != nil {
					return err
				}
				c.Time = fromTimestamptz(at)
				return put(backupRecord{Connection: &c})
			})
		if err != nil {
			return fmt.Errorf("connections: %w", err)
		}
		return nil
	})
	if err == nil {
		err = enc.Encode(backupRecord{End: &backupEnd{Records: records}})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("backing up store: %w", err)
	}
	return nil
}

// dump calls fn on each row of query, as the rows arrive.
func dump(ctx context.Context, tx pgx.Tx, query string, fn func(pgx.CollectableRow) error) error {
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Restore loads a dump written by Backup into s, which must hold no
// organisation yet, in one transaction: if anything is wrong with the dump
// nothing is loaded. Log entries go through the checks of AppendLog, so a
// dump whose chains are broken is refused too.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.DisallowUnknownFields()
	var h backupHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("restoring store: reading the header: %w", err)
	}
	if h.Format != backupFormat || h.Version != backupVersion {
		return fmt.Errorf("restoring store: not a %s version %d dump (format %q, version %d)", backupFormat, backupVersion, h.Format, h.Version)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organisations)`).Scan(&used); err != nil {
			return err
		}
		if used {
			return errors.New("the store already holds organisations")
		}
		l := logRestorer{tx: tx}
		for records := 0; ; records++ {
			var rec backupRecord
			err := dec.Decode(&rec)
			if err == io.EOF {
				return errors.New("the dump is cut short: it has no end record")
			}
			if err != nil {
				return fmt.Errorf("record %d: %w", records+1, err)
			}
			end, err := restoreRecord(ctx, tx, &l, rec, records)
			if err != nil {
				return fmt.Errorf("record %d: %w", records+1, err)
			}
			if end {
				if _, err := dec.Token(); err != io.EOF {
					return errors.New("the dump goes on after its end record")
				}
				return nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("restoring store: %w", err)
	}
	return nil
}

// restoreRecord writes rec, the one after records others, in tx, and says
// whether it was the end record.
func restoreRecord(ctx context.Context, tx pgx.Tx, l *logRestorer, rec backupRecord, records int) (end bool, err error) {
	set := 0
	for _, p := range []bool{rec.Organisation != nil, rec.Entry != nil, rec.Invitation != nil, rec.Connection != nil, rec.End != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return false, fmt.Errorf("%d kinds of record in one line, want 1", set)
	}
	if rec.Entry != nil {
		return false, l.add(ctx, *rec.Entry)
	}
	if err := l.flush(ctx); err != nil {
		return false, err
	}
	switch {
	case rec.Organisation != nil:
		o := rec.Organisation
		return false, insertOrg(ctx, tx, store.Organisation{
			ID: o.ID, Name: o.Name, BootstrapTokenHash: o.BootstrapTokenHash, RootVerifyKey: o.RootVerifyKey,
			CreatedAt: o.CreatedAt, BootstrappedAt: o.BootstrappedAt,
			Limits: store.Limits{StorageBytes: o.StorageLimit, Users: o.UserLimit}, UsedBytes: o.UsedBytes,
		})
	case rec.Invitation != nil:
		i := rec.Invitation
		return false, insertInvitation(ctx, tx, store.Invitation{
			ID: i.ID, OrgID: i.OrgID, TokenHash: i.TokenHash, Kind: i.Kind, Email: i.Email, UserID: i.UserID,
			Profile: i.Profile, CreatedBy: i.CreatedBy, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt,
			State: i.State, Attempts: i.Attempts,
		})
	case rec.Connection != nil:
		c := rec.Connection
		_, err := tx.Exec(ctx, `INSERT INTO connections (org_id, device_id, connected_at, address) VALUES ($1, $2, $3, $4)`,
			c.OrgID, c.DeviceID, timestamptz(c.Time), c.Address)
		return false, err
	}
	if rec.End.Records != records {
		return false, fmt.Errorf("the end record counts %d records, the dump has %d", rec.End.Records, records)
	}
	return true, nil
}

// logRestorer appends a dump's entries log by log, in batches.
type logRestorer struct {
	tx           pgx.Tx
	orgID, logID string
	entries      []store.LogEntry
	size         int
}

func (l *logRestorer) add(ctx context.Context, e backupEntry) error {
	if e.LogID != orgLogID {
		if err := checkVaultID(e.LogID); err != nil {
			return err
		}
	}
	if len(l.entries) > 0 && (e.OrgID != l.orgID || e.LogID != l.logID) {
		if err := l.flush(ctx); err != nil {
			return err
		}
	}
	l.orgID, l.logID = e.OrgID, e.LogID
	l.entries = append(l.entries, store.LogEntry{Position: e.Position, PrevHash: e.PrevHash, Hash: e.Hash, Data: e.Data, ReceivedAt: e.ReceivedAt})
	l.size += len(e.Data)
	if len(l.entries) >= 1000 || l.size >= 8<<20 {
		return l.flush(ctx)
	}
	return nil
}

func (l *logRestorer) flush(ctx context.Context) error {
	if len(l.entries) == 0 {
		return nil
	}
	if _, err := appendEntries(ctx, l.tx, l.orgID, l.logID, l.entries); err != nil {
		return fmt.Errorf("the log %q of %s: %w", l.logID, l.orgID, err)
	}
	l.entries, l.size = nil, 0
	return nil
}
