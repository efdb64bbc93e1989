// Package store defines what the server keeps and the interface every
// storage backend implements. The server stores opaque, signed bytes; it
// never needs to understand them to keep them (SPEC.md §7).
//
// Each method is one transaction: it either happens entirely or not at all.
// The conformance suite in storetest checks that every backend behaves the
// same.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

var (
	// ErrNotFound is returned when the named organisation, invitation or
	// entry does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating something whose id is taken.
	ErrExists = errors.New("already exists")
	// ErrConflict is returned by AppendLog when the log head moved since the
	// caller read it (its first entry's position is not head+1, or its
	// PrevHash is not the head's hash).
	ErrConflict = errors.New("log head moved")
	// ErrBadToken is returned when a bootstrap token does not match or the
	// organisation is already bootstrapped.
	ErrBadToken = errors.New("bad or spent bootstrap token")
	// ErrQuotaExceeded is returned by ReserveStorage when the
	// organisation's storage quota would be exceeded.
	ErrQuotaExceeded = errors.New("storage quota exceeded")
	// ErrInvitationUnusable is returned when an invitation given to
	// AppendLog is not pending or has expired.
	ErrInvitationUnusable = errors.New("invitation is not pending")
	// ErrCorrupt is returned when what a backend reads back is not what it
	// could have written: a missing bucket or row, a value too short or that
	// does not decode, a log with a gap. It concerns the organisation the
	// call names; the store keeps serving the others (SECURITY.md A39).
	ErrCorrupt = errors.New("stored data is damaged")
	// ErrBlockCollected is returned by AppendVaultLogBlocks when a block
	// the entries declare was collected (CondemnBlocks): nothing is
	// written, since the entries would reference a block that is gone
	// (SPEC.md §7.5).
	ErrBlockCollected = errors.New("a block the entry references was collected")
)

// Organisation is one trust domain hosted by the server.
type Organisation struct {
	ID                 string
	Name               string
	BootstrapTokenHash []byte // SHA-256 of the bootstrap token; nil once bootstrapped
	RootVerifyKey      []byte // set at bootstrap; nil before
	CreatedAt          time.Time
	BootstrappedAt     time.Time
	Limits             Limits
	UsedBytes          int64 // encrypted block bytes stored
}

// Limits are an organisation's quotas, set by the operator; 0 means none.
type Limits struct {
	StorageBytes int64
	Users        int // active (not revoked) users
}

// LogEntry is one certificate in the organisation log (SPEC.md §4).
// Positions start at 1. Hash = H(PrevHash, Data) is computed by the caller.
type LogEntry struct {
	Position   uint64
	PrevHash   []byte
	Hash       []byte
	Data       []byte // the signed certificate, exactly as the author sent it
	ReceivedAt time.Time
}

// Head is the last entry's position and hash (0 and the genesis hash for an
// empty log is the caller's business: an empty log has Position 0, Hash nil).
type Head struct {
	Position uint64
	Hash     []byte
}

// InvitationState is where an invitation stands.
type InvitationState string

const (
	InvitationPending   InvitationState = "pending"
	InvitationSpent     InvitationState = "spent"
	InvitationCancelled InvitationState = "cancelled"
	InvitationBurned    InvitationState = "burned" // too many failed attempts
)

// BlockRefs are the blocks that appended vault entries reference, as the
// writer declared them (VaultAppendRequest.block_ids). Declared false
// means the writer said nothing: an older client.
type BlockRefs struct {
	Declared bool
	IDs      []string
	// Folders are the folders the entries wrote, each with its pages as
	// the writer declared them (VaultAppendRequest.folder_pages), for
	// VaultPages.
	Folders []FolderPages
}

// FolderPages are the blocks holding the pages of one folder in pages
// (SPEC.md §11.3.1), in page order, as the newest entry that wrote the
// folder declared them. An entry that writes the folder without pages
// (Pages empty) drops what was recorded for it.
type FolderPages struct {
	Folder string
	Pages  []string
}

// Invitation is what the server knows of an invitation: never the token,
// only its hash (SECURITY.md A19).
type Invitation struct {
	ID        string
	OrgID     string
	TokenHash []byte
	Kind      string // "user", "device" or "recovery"
	Email     string // for a user invitation
	UserID    string // for a device invitation: the user adding a device
	Profile   string // for a user invitation: the profile it will get
	CreatedBy string // device id of the creator
	CreatedAt time.Time
	ExpiresAt time.Time
	State     InvitationState
	Attempts  int // failed enrolment attempts so far
}

// Connection is one connection of a device (CNIL's last-connection rule).
type Connection struct {
	DeviceID string
	Time     time.Time
	Address  string
}

// Store is the server's persistent state. Every method takes ctx first and
// is one transaction.
type Store interface {
	// CreateOrganisation records a new, not yet bootstrapped organisation.
	CreateOrganisation(ctx context.Context, org Organisation) error
	// Organisation returns the organisation with that id.
	Organisation(ctx context.Context, id string) (Organisation, error)
	// Organisations lists every organisation, by id.
	Organisations(ctx context.Context) ([]Organisation, error)
	// Bootstrap checks tokenHash against the organisation's bootstrap token,
	// records rootKey and appends the first entries, all at once. Afterwards
	// the token is gone. A wrong or spent token is ErrBadToken.
	Bootstrap(ctx context.Context, orgID string, tokenHash, rootKey []byte, entries []LogEntry, at time.Time) error

	// SetLimits sets an organisation's quotas.
	SetLimits(ctx context.Context, orgID string, l Limits) error
	// ReserveStorage adds n bytes (negative: gives them back) to the
	// organisation's usage and returns the new usage. With a storage quota,
	// an addition that would exceed it is ErrQuotaExceeded and changes
	// nothing.
	ReserveStorage(ctx context.Context, orgID string, n int64) (int64, error)

	// AppendLog appends entries at the end of the organisation log. The
	// first entry's Position must be head+1 and its PrevHash the head's
	// hash, and each next entry must follow the one before; otherwise
	// ErrConflict and nothing is written. If spend is not empty, the
	// invitation with that id must be pending and not expired at `at`; it is
	// marked spent in the same transaction (ErrInvitationUnusable otherwise).
	AppendLog(ctx context.Context, orgID string, entries []LogEntry, spend string, at time.Time) (Head, error)
	// ReadLog returns up to limit entries starting at position from (>= 1).
	ReadLog(ctx context.Context, orgID string, from uint64, limit int) ([]LogEntry, error)
	// LogHead returns the last entry's position and hash.
	LogHead(ctx context.Context, orgID string) (Head, error)

	// AppendVaultLog appends entries to one vault's log, with the same
	// position and chain rules as AppendLog (ErrConflict). The store does
	// not know which vaults exist (the organisation log says): a vault's
	// log is empty until its first append. ErrNotFound only for an
	// unknown organisation.
	AppendVaultLog(ctx context.Context, orgID, vaultID string, entries []LogEntry, at time.Time) (Head, error)
	// ReadVaultLog returns up to limit entries of a vault's log from
	// position from (>= 1).
	ReadVaultLog(ctx context.Context, orgID, vaultID string, from uint64, limit int) ([]LogEntry, error)
	// VaultLogHead returns the last entry of a vault's log.
	VaultLogHead(ctx context.Context, orgID, vaultID string) (Head, error)

	// AppendVaultLogBlocks is AppendVaultLog that also records, in the
	// same transaction, the blocks the entries reference (SPEC.md §7.5).
	// With refs.Declared, each id of refs.IDs becomes referenced for good,
	// unless one was collected: then ErrBlockCollected and nothing is
	// written. Without it (an older client's append, and every
	// AppendVaultLog), the entries' blocks are unknown and the vault is
	// never collected again (BlocksDeclared).
	AppendVaultLogBlocks(ctx context.Context, orgID, vaultID string, entries []LogEntry, refs BlockRefs, at time.Time) (Head, error)
	// BlocksDeclared reports whether every entry of a vault's log
	// declared its blocks, as AppendVaultLogBlocks with refs.Declared
	// does: only then may the vault's blocks be collected. A vault log
	// with entries from before block collection existed has not.
	BlocksDeclared(ctx context.Context, orgID, vaultID string) (bool, error)
	// VaultPages returns the pages recorded for a vault's folders by
	// AppendVaultLogBlocks (refs.Folders), by folder id; none before its
	// first append.
	VaultPages(ctx context.Context, orgID, vaultID string) ([]FolderPages, error)
	// CondemnBlocks records as collected, in one transaction, the blocks
	// of ids that no entry of the vault's log declared, and returns them:
	// fresh, condemned by this call, and earlier, condemned before (a
	// collection cut short). Both may be deleted from the block store, and
	// no append may declare them again. It condemns nothing (and returns
	// none) when the vault's blocks are not all declared (BlocksDeclared).
	// With dryRun it records nothing and returns as fresh the ids it would
	// condemn.
	CondemnBlocks(ctx context.Context, orgID, vaultID string, ids []string, dryRun bool) (fresh, earlier []string, err error)

	// CreateInvitation records a new invitation (ErrExists if its id is taken).
	CreateInvitation(ctx context.Context, inv Invitation) error
	// Invitation returns one invitation by id.
	Invitation(ctx context.Context, orgID, id string) (Invitation, error)
	// InvitationByToken returns the invitation whose token hash is tokenHash.
	InvitationByToken(ctx context.Context, orgID string, tokenHash []byte) (Invitation, error)
	// Invitations lists an organisation's invitations, oldest first.
	Invitations(ctx context.Context, orgID string) ([]Invitation, error)
	// UpdateInvitation reads, changes and writes one invitation atomically.
	// If fn returns an error nothing is written and that error is returned.
	UpdateInvitation(ctx context.Context, orgID, id string, fn func(*Invitation) error) (Invitation, error)

	// RecordConnection stores a connection and returns the one before it for
	// the same device (zero Connection and no error if there was none).
	RecordConnection(ctx context.Context, orgID string, c Connection) (previous Connection, err error)
	// Connections returns up to limit of a device's connections, newest
	// first; an empty deviceID means every device of the organisation.
	Connections(ctx context.Context, orgID, deviceID string, limit int) ([]Connection, error)

	// Backup writes a consistent copy of the whole store to w while the
	// store stays in use.
	Backup(ctx context.Context, w io.Writer) error
	// Close releases the store.
	Close() error
}

// VaultLogReader is a Store that reads what VaultRead and GetHead need in
// one round trip where the three reads make three (SPEC.md §6.2).
type VaultLogReader interface {
	// ReadVaultLogHeads returns, read in this order, VaultLogHead, up
	// to limit entries of ReadVaultLog from position from (none if limit
	// is 0), and LogHead if withOrgHead (the zero Head otherwise).
	ReadVaultLogHeads(ctx context.Context, orgID, vaultID string, from uint64, limit int, withOrgHead bool) (vault Head, entries []LogEntry, org Head, err error)
}

// MaxBlockSize is the largest block a BlockStore accepts.
const MaxBlockSize = 4 << 20

// ErrBlockTooLarge is returned for a block over MaxBlockSize.
var ErrBlockTooLarge = errors.New("block too large")

// ErrInvalidID is returned by a BlockStore for an organisation, vault or
// block id that is not 8 to 64 lowercase letters and digits.
var ErrInvalidID = errors.New("invalid id")

// CheckBlockIDs checks that every id of a block is 8 to 64 lowercase
// letters and digits, the shape of every coffre id (certificate.ValidID):
// none is a path, none can name another block's file, row or object.
func CheckBlockIDs(orgID, vaultID, blockID string) error {
	for _, id := range []struct{ kind, id string }{{"organisation", orgID}, {"vault", vaultID}, {"block", blockID}} {
		if !validID(id.id) {
			return fmt.Errorf("%s id %q: %w", id.kind, id.id, ErrInvalidID)
		}
	}
	return nil
}

// CheckVaultBlockIDs is CheckBlockIDs for several blocks of one vault.
func CheckVaultBlockIDs(orgID, vaultID string, blockIDs []string) error {
	if err := CheckBlockIDs(orgID, vaultID, "blockid0"); err != nil {
		return err
	}
	for _, id := range blockIDs {
		if err := CheckBlockIDs(orgID, vaultID, id); err != nil {
			return err
		}
	}
	return nil
}

func validID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// BlockData is one block of a BlockBatcher.PutBlocks call.
type BlockData struct {
	ID   string
	Data []byte
}

// BlockBatcher is a BlockStore that stores several blocks of one vault
// with one group commit (SPEC.md §7.4). PutBlocks is durable for every
// block before it returns; each block behaves as PutBlock would (the same
// bytes again succeed, other bytes are ErrExists). On an error some of
// the blocks may be stored: they are whole, and a retry succeeds for them.
// A BlockStore without it gets PutBlocks as PutBlock for each block.
type BlockBatcher interface {
	PutBlocks(ctx context.Context, orgID, vaultID string, blocks []BlockData) error
}

// ReservingBatcher is a BlockBatcher that can reserve the organisation's
// storage for a batch in the same durable write as its blocks (SPEC.md
// §7.4): one write where a reservation then a batch make two.
type ReservingBatcher interface {
	// PutBlocksReserved reserves n bytes of orgID's storage (as
	// Store.ReserveStorage: ErrQuotaExceeded) and stores blocks as
	// PutBlocks does, all or nothing: on an error nothing is reserved
	// or stored. done is false, with nothing done, if it can't for this
	// batch: the caller reserves, then calls PutBlocks.
	PutBlocksReserved(ctx context.Context, orgID, vaultID string, blocks []BlockData, n int64) (done bool, err error)
}

// ReservingPutter is a BlockStore that can reserve the organisation's
// storage for one block in the same round trip as it stores it (SPEC.md
// §7.4): every small file written is one PutBlock.
type ReservingPutter interface {
	// PutBlockReserved reserves n bytes of orgID's storage (as
	// Store.ReserveStorage: ErrQuotaExceeded, nothing stored) and stores
	// the block as PutBlock does. After another error nothing stays
	// reserved, and the block may be stored whole, as after a PutBlock
	// that failed.
	PutBlockReserved(ctx context.Context, orgID, vaultID, blockID string, data []byte, n int64) error
}

// GatedPutter is a BlockStore that can write and sync a block's bytes
// while the organisation's storage is being reserved for it, and name the
// block only once the reservation succeeded (SPEC.md §7.4): the
// reservation's durable write and the block's no longer take turns.
type GatedPutter interface {
	// PutBlockGated stores the block as PutBlock does, calling reserve
	// at most once, concurrently with writing and syncing the bytes, and
	// returning only after it returned. The block gets its name (is
	// stored) only if reserve returned nil; if reserve fails, its error is
	// returned as it is and nothing is stored by this call. After another
	// error the block may be stored whole, as after a PutBlock that failed.
	PutBlockGated(ctx context.Context, orgID, vaultID, blockID string, data []byte, reserve func() error) error
}

// SmallBlocks keeps the small blocks of batches in the metadata store
// (SPEC.md §7.4): a batch of them is one transaction, one durable write,
// where a block store of files makes a file and an fsync per block. The
// block store that uses it keeps a block id in one place only: it checks
// the other before storing.
type SmallBlocks interface {
	// PutSmallBlocks stores blocks of one vault durably in one
	// transaction: all or none. Each behaves as PutBlock would (the same
	// bytes again succeed, other bytes are ErrExists). If reserve > 0,
	// the same transaction reserves that many bytes of the organisation's
	// storage, as Store.ReserveStorage (ErrQuotaExceeded: nothing stored).
	PutSmallBlocks(ctx context.Context, orgID, vaultID string, blocks []BlockData, reserve int64) error
	// SmallBlock returns a block (ErrNotFound if there is none).
	SmallBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error)
	// SmallBlockVaults, ListSmallBlocks and DeleteSmallBlocks are those
	// of BlockCollector, for the small blocks; DeleteSmallBlocks is one
	// transaction.
	SmallBlockVaults(ctx context.Context, orgID string) ([]string, error)
	ListSmallBlocks(ctx context.Context, orgID, vaultID string, fn func(BlockInfo) error) error
	DeleteSmallBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error
}

// BlockInfo is one stored block as a BlockCollector lists it.
type BlockInfo struct {
	ID   string
	Size int64
	// Stored is when the block was stored, by the clock of whatever
	// stores it (the file's modification time, the object's), or later:
	// never earlier.
	Stored time.Time
}

// BlockCollector is a BlockStore whose blocks can be listed and deleted,
// for block garbage collection (SPEC.md §7.5).
type BlockCollector interface {
	// BlockVaults lists the vaults of an organisation that hold blocks.
	BlockVaults(ctx context.Context, orgID string) ([]string, error)
	// ListBlocks calls fn with each block of a vault, in no set order; an
	// error from fn stops it and is returned.
	ListBlocks(ctx context.Context, orgID, vaultID string, fn func(BlockInfo) error) error
	// DeleteBlocks removes blocks of one vault for good, as few writes
	// as the store allows (a collection deletes up to a thousand at
	// once); a block that is not there is no error (a collection cut
	// short is run again). An invalid id (ErrInvalidID) refuses them all
	// before anything is deleted; after another error, some may be gone.
	DeleteBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error
}

// BlockStore keeps the encrypted blocks of files, apart from the metadata
// store: blocks are large and read sequentially, so the embedded
// deployment keeps them as plain files (BENCH.md: bbolt reads large cold
// values at a tenth of the speed of plain files).
type BlockStore interface {
	// PutBlock stores a block durably before returning. Putting the same
	// id again with the same bytes succeeds; with other bytes it is
	// ErrExists (a block is written once).
	PutBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error
	// GetBlock returns a block (ErrNotFound if there is none).
	GetBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error)
	// Close releases the store.
	Close() error
}

// DataReleasing is a BlockStore whose puts (PutBlock, and PutBlocks and
// PutBlocksReserved if it has them) refer to their data no more once they
// return, whatever they return: the server may then reuse the buffer a
// block was received in (wire.ReceivePool). A store that
// may still read it later (an HTTP upload answered early, a write queued
// for later) must not implement it.
type DataReleasing interface {
	ReleasesData()
}

// BlockBorrowing is a BlockStore that can read a block into a buffer the
// caller gives and takes back (the server's GetBlock, issue 15: a new
// buffer of a MiB per block cost the server its clearing and, once
// collected, its return to the system). alloc(n) returns a buffer of n
// bytes or more, which may hold anything. GetBlockInto returns the block
// and, if the block is in a buffer alloc returned, that buffer (its first
// bytes are the block); a nil buffer means the block is in memory of the
// store's own, which the caller must not give to its pool.
type BlockBorrowing interface {
	GetBlockInto(ctx context.Context, orgID, vaultID, blockID string, alloc func(n int) *[]byte) (data []byte, buf *[]byte, err error)
}
