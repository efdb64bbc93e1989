package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"filippo.io/age"
)

// ScryptWorkFactor is the log2 scrypt cost for new passphrase-encrypted
// files (age's default, 18: about 0.5 s and 256 MiB). Only tests lower it.
var ScryptWorkFactor = 18

// scryptMaxWorkFactor caps the cost a file can ask of DecryptWithPassphrase
// (age's default, 22). Only tests lower it, so that fuzzing stays cheap.
var scryptMaxWorkFactor = 22

// scryptStanza is age's recipient stanza type for passphrase files.
const scryptStanza = "scrypt"

// errEmptyPassphrase is returned for an empty passphrase, which age refuses.
var errEmptyPassphrase = errors.New("empty passphrase")

// EncryptWithPassphrase encrypts plaintext as an age file with a passphrase
// (scrypt) recipient.
func EncryptWithPassphrase(passphrase []byte, plaintext []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errEmptyPassphrase
	}
	r, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("passphrase recipient: %w", err)
	}
	r.SetWorkFactor(ScryptWorkFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, fmt.Errorf("encrypting with passphrase: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, fmt.Errorf("encrypting with passphrase: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypting with passphrase: %w", err)
	}
	return buf.Bytes(), nil
}

// DecryptWithPassphrase opens an age passphrase file. A wrong passphrase
// returns ErrWrongPassphrase; a damaged file returns another error.
func DecryptWithPassphrase(passphrase []byte, ciphertext []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errEmptyPassphrase
	}
	id, err := age.NewScryptIdentity(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("passphrase identity: %w", err)
	}
	id.SetMaxWorkFactor(scryptMaxWorkFactor)
	r, err := age.Decrypt(bytes.NewReader(ciphertext), id)
	if isWrongPassphrase(err) {
		return nil, ErrWrongPassphrase
	}
	if err != nil {
		return nil, fmt.Errorf("decrypting passphrase file: %w", err)
	}
	plaintext, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decrypting passphrase file: %w", err)
	}
	return plaintext, nil
}

// PassphraseWorkFactor returns the scrypt work factor (log2 of its cost)
// an age passphrase file names in its header, and false if the file has
// no such stanza. It reads the header only; it checks nothing.
func PassphraseWorkFactor(ciphertext []byte) (int, bool) {
	header, _, _ := bytes.Cut(ciphertext, []byte("\n---"))
	for _, line := range bytes.Split(header, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 4 && string(f[0]) == "->" && string(f[1]) == scryptStanza {
			n, err := strconv.Atoi(string(f[3]))
			return n, err == nil
		}
	}
	return 0, false
}

// isWrongPassphrase tells a wrong passphrase from a damaged or foreign file.
// age reports both "incorrect passphrase" and "not a passphrase file" as a
// NoIdentityMatchError; only a file whose single stanza is scrypt can have
// failed because of the passphrase (ScryptIdentity.unwrap in age).
func isWrongPassphrase(err error) bool {
	var noMatch *age.NoIdentityMatchError
	return errors.As(err, &noMatch) &&
		len(noMatch.StanzaTypes) == 1 && noMatch.StanzaTypes[0] == scryptStanza
}
