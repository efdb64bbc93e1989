package workspace

import (
	"context"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// Deps is what a Vault needs. Org, Vault, Keys and Log are the verified
// state it starts from; Remote, Blocks and Persist are required; the
// optional capabilities are nil when absent.
type Deps struct {
	Org   *certificate.Organisation
	Vault *certificate.Vault
	Keys  *Keys
	Log   *Log

	Remote  Remote  // the server's copy of the vault log
	Blocks  Blocks  // the server's encrypted blocks
	Writer  Writer  // the device that signs this vault's writes
	Persist Persist // stores what Sync verified

	// Cache, if not nil, keeps verified blocks locally.
	Cache BlockCache
	// Journal, if not nil, lets an interrupted upload resume.
	Journal UploadJournal
	// Clock, if not nil, replaces time.Now for the writes' times and the
	// role checks before a write.
	Clock func() time.Time
	// Parallel is how many blocks are in flight in a transfer (0: 4).
	Parallel int
}

// FolderPages names the blocks holding the pages of one folder in pages
// that an entry writes, in page order.
type FolderPages struct {
	Folder string
	Pages  []string
}

// RemoteEntry is one entry as the server returns it.
type RemoteEntry struct {
	Position uint64
	Data     []byte
}

// Remote is the server's copy of a vault's log, as a vault sees it.
// Everything it returns is checked before use.
type Remote interface {
	// Append appends a signed entry and declares the blocks its manifests
	// reference (blocks, each once; none is not nil: an empty declaration),
	// so that the server keeps them (SPEC.md §7.5), and which of them are
	// the pages of the folders in pages it writes (pages), so that the
	// server can hand them to a device reading the log from the start
	// (SPEC.md §11.3.1); certificate.ErrConflict if the log moved since
	// the entry was signed, ErrBlockCollected if the server collected a
	// declared block first.
	Append(ctx context.Context, vaultID string, entry []byte, blocks []string, pages []FolderPages) error
	// Read returns the entries from position from on, and the server's
	// head; with pages, it also asks for the pages of the vault's folders
	// in pages (SPEC.md §11.3.1), which its Blocks then serves unchecked,
	// as it would serve them from the server. With signed, a Read made
	// before a write, it also asks for the server's signed heads, which
	// the write's ConfirmFresh may check instead of asking again.
	Read(ctx context.Context, vaultID string, from uint64, pages, signed bool) (entries []RemoteEntry, head uint64, err error)
	// ConfirmFresh confirms, before a write under keyIndex is signed, that
	// the server vouches (signed, recently) for vault as the newest vault
	// head and for org or a newer organisation head that changes nothing
	// for this write; certificate.ErrConflict if the vault log moved
	// meanwhile (SPEC.md §4.4).
	ConfirmFresh(ctx context.Context, vaultID string, keyIndex uint32, org, vault certificate.Head) error
}

// Blocks is the server's store of a vault's encrypted blocks. What
// GetBlock returns is checked against the signed manifest before use, and
// is the caller's: it is decrypted in place.
type Blocks interface {
	PutBlock(ctx context.Context, vaultID, blockID string, data []byte) error
	GetBlock(ctx context.Context, vaultID, blockID string) ([]byte, error)
}

// BlockReuser is Blocks that takes back what GetBlock returned once the
// caller is done with it, every byte up to its capacity, to receive a
// later block in that memory (issue 15: a new buffer per block of a
// download cost its clearing and the collector's work).
type BlockReuser interface{ ReuseBlock(data []byte) }

// BlockFetcher is Blocks that can also return several blocks of a vault
// with one call (GetBlocks, SPEC.md §6.2): a listing fetches a folder's
// pages with it. A Blocks without it gets each block alone.
type BlockFetcher interface {
	// GetBlocks returns the blocks named by ids (distinct), in that
	// order, each the caller's, or an error: none is left out. They are
	// checked as GetBlock's are.
	GetBlocks(ctx context.Context, vaultID string, ids []string) ([][]byte, error)
}

// BlockCache keeps blocks locally: it is told which blocks passed their
// manifest's checks (only those may be kept) and which failed (to be
// dropped).
type BlockCache interface {
	BlockVerified(vaultID, blockID string, ciphertext []byte)
	BlockRejected(vaultID, blockID string)
}

// UploadJournal remembers the blocks of uploads in progress, so that an
// interrupted upload resumes: blocks already sent are not sent again
// (their keys are kept encrypted on the device, never on the server).
// An upload records its blocks a few at a time (upload.go: journalBlocks).
type UploadJournal interface {
	Uploaded(vaultID, path string) []Block
	BlocksSent(vaultID, path string, bs []Block)
	UploadDone(vaultID, path string)
}

// Writer is the device that signs this vault's writes.
type Writer struct {
	DeviceID string
	UserID   string
	Key      *crypto.SigningKey
}

// Persist stores newly verified entries and the new head, or returns an
// error (then the state is not advanced).
type Persist func(vaultID string, entries []RemoteEntry, head certificate.Head) error
