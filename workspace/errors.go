package workspace

import "errors"

// Errors of a Vault's operations. Those of its log are vaultlog's and
// certificate's (ErrRollback, ErrFork); ErrBadManifest and ErrNoKey are
// beside the manifests and the keys.
var (
	// ErrWriteConflict is returned when someone else changed the same file
	// or folder first: nothing was written, the caller's data is intact.
	ErrWriteConflict = errors.New("someone else changed it first: nothing was written, your data is intact")
	// ErrBlockCollected is returned by a write whose blocks were uploaded
	// so long before its commit that the server collected one as
	// unreferenced (SPEC.md §7.5): nothing was written, and the next try
	// uploads the file's blocks again.
	ErrBlockCollected = errors.New("the server discarded blocks of this write, uploaded too long before it was committed: nothing was written, try again")
	// ErrNotFound is returned for a path that does not exist.
	ErrNotFound = errors.New("no such file or folder")
	// ErrExists is returned when a name is taken.
	ErrExists = errors.New("already exists")
	// ErrNotEmpty is returned when removing a folder that has children.
	ErrNotEmpty = errors.New("folder not empty")
	// ErrNotFolder and ErrIsFolder are returned when a path is the wrong kind.
	ErrNotFolder = errors.New("not a folder")
	ErrIsFolder  = errors.New("is a folder")
	// ErrNoVersion is returned for a version number a file never had.
	ErrNoVersion = errors.New("no such version")
	// ErrReadOnly is returned when this user's role does not allow writing.
	ErrReadOnly = errors.New("your role in this vault does not allow writing")
	// ErrArchived is returned when writing to an archived vault.
	ErrArchived = errors.New("the vault is archived")
	// ErrBadBlock is returned when a block does not match its signed
	// digest or size (SECURITY.md A10, A21).
	ErrBadBlock = errors.New("block does not match its manifest")
	// ErrWithheld is returned when the organisation log proves the vault
	// log has entries the server does not show: every creation, key
	// rotation and grant of a key is followed by a checkpoint entry
	// (SECURITY.md A30).
	ErrWithheld = errors.New("the server withholds vault entries that the organisation log proves exist (or the vault's last creation, rotation or grant was never anchored: a member who may write repairs it)")
)
