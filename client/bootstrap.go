package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// CheckNewPassphrase applies the rule Bootstrap and Claim apply to a new
// key file's passphrase, so that a prompt can refuse a passphrase before
// asking for it a second time.
func CheckNewPassphrase(p []byte) error { return checkNewPassphrase(p) }

// BootstrapOptions describe the organisation's first administrator.
type BootstrapOptions struct {
	Name, Email, DeviceLabel string
	Passphrase               []byte
}

// Bootstrap creates the organisation's root key on this device, signs the
// first administrator and their device with it, publishes both with the
// bootstrap token, and forgets the root key (SPEC.md §4.1). The result is a
// device whose state is verified from the new root key, and the
// organisation link that invitations are made from.
func Bootstrap(ctx context.Context, dir string, l link.Link, opts BootstrapOptions) (*Session, error) {
	if l.Kind != link.KindBootstrap {
		return nil, fmt.Errorf("%w: not a bootstrap link (the server operator prints one with 'coffre-server org create')", link.ErrBadLink)
	}
	if HasDevice(dir) {
		return nil, ErrAlreadyEnrolled
	}
	if err := checkNewPassphrase(opts.Passphrase); err != nil {
		return nil, err
	}
	if opts.Name == "" || opts.Email == "" {
		return nil, errors.New("the first administrator needs a name and an email (--name, --email)")
	}
	if opts.DeviceLabel == "" {
		opts.DeviceLabel = defaultDeviceLabel()
	}
	c, err := dial(l, nil)
	if err != nil {
		return nil, err
	}
	defer c.close()
	info, err := c.api.GetOrganisation(ctx, &coffrev1.GetOrganisationRequest{OrganisationId: l.OrganisationID})
	if err != nil {
		return nil, fromServer(l.Address, err)
	}
	if info.GetBootstrapped() {
		return nil, errors.New("this organisation is already bootstrapped: ask an administrator for an invitation")
	}

	root, err := crypto.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	keys := &deviceKeys{
		OrganisationName: info.GetName(), UserID: certificate.NewID(), DeviceID: certificate.NewID(),
		DeviceLabel: opts.DeviceLabel, StateKey: crypto.NewSecretKey(),
	}
	if keys.SigningKey, err = crypto.GenerateSigningKey(); err != nil {
		return nil, err
	}
	if keys.SealKey, err = crypto.GenerateSealKey(); err != nil {
		return nil, err
	}
	if keys.DeviceSealKey, err = newDeviceSealKey(); err != nil {
		return nil, err
	}
	orgLink := l.WithoutSecrets()
	orgLink.Root = root.Public()
	keys.OrganisationLink = orgLink.String()

	org := certificate.NewOrganisation(l.OrganisationID, root.Public())
	// The name and email travel beside the certificate, committed to by
	// it, so that the server can withhold them from outsiders (SPEC.md §17).
	opening, commitment := certificate.NewIdentity(l.OrganisationID, keys.UserID, opts.Name, opts.Email)
	certs, err := org.SignNext(root, "", time.Now(),
		certificate.UserCreated{UserID: keys.UserID, Profile: certificate.ProfileAdmin, SealKey: keys.SealKey.Public(), IdentityCommitment: commitment},
		certificate.DeviceAdded{DeviceID: keys.DeviceID, UserID: keys.UserID, Label: opts.DeviceLabel, VerifyKey: keys.SigningKey.Public(), SealKey: keys.DeviceSealKey.Public()},
	)
	if err != nil {
		return nil, err
	}
	if certs[0], err = certificate.WithIdentity(certs[0], opening); err != nil {
		return nil, err
	}
	// The root key is never written anywhere (only its verify key travels,
	// in links): once this function returns, nothing can sign as the
	// organisation again. The key file is written before the server hears
	// of it: once the token is spent, these keys are the only admin's.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeKeyFile(keyFilePath(dir), keys, opts.Passphrase); err != nil {
		return nil, err
	}
	_, err = c.api.Bootstrap(ctx, &coffrev1.BootstrapRequest{
		OrganisationId: l.OrganisationID, Token: l.Token, RootVerifyKey: root.Public().Bytes(), Certificates: certs,
	})
	if err != nil {
		os.Remove(keyFilePath(dir))
		return nil, fromServer(l.Address, err)
	}
	s, err := openWithKeys(dir, keys)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: %w", ErrFirstSync, err)
	}
	return s, nil
}
