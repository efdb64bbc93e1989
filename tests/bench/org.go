package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// benchOrg is an organisation on a bench server: its first admin (a real
// client.Bootstrap in a device directory) and a raw, signed connection as
// that admin, used to publish certificates in bulk (the fast path: the
// certificates are real, signed by the admin's device and checked by the
// server like any other; only the people and their enrolments are skipped).
type benchOrg struct {
	srv      *serverProc
	name     string
	dir      string // admin's device directory
	admin    *client.Session
	keys     keyFile // admin's device keys
	orgLink  string  // without secrets: what key files hold
	api      coffrev1.CoffreServiceClient
	cc       *grpc.ClientConn
	signKey  *crypto.SigningKey
	sealKey  *crypto.SealKey
	nextUser int
}

// keyFile is the content of a device key file (client/keyfile.go,
// keyFileContent; SPEC.md §2.6).
type keyFile struct {
	Version          int    `json:"version"`
	OrganisationLink string `json:"organisation_link"`
	OrganisationName string `json:"organisation_name"`
	UserID           string `json:"user_id"`
	DeviceID         string `json:"device_id"`
	DeviceLabel      string `json:"device_label"`
	SigningKey       []byte `json:"signing_key"`
	SealKey          []byte `json:"seal_key"`
	StateKey         []byte `json:"state_key"`
}

func readKeyFile(dir string) (keyFile, error) {
	var k keyFile
	sealed, err := os.ReadFile(filepath.Join(dir, "device.age"))
	if err != nil {
		return k, err
	}
	plain, err := crypto.DecryptWithPassphrase(passphrase, sealed)
	if err != nil {
		return k, err
	}
	return k, json.Unmarshal(plain, &k)
}

func writeKeyFile(dir string, k keyFile) error {
	plain, err := json.Marshal(k)
	if err != nil {
		return err
	}
	sealed, err := crypto.EncryptWithPassphrase(passphrase, plain)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "device.age"), sealed, 0o600)
}

// newOrg creates an organisation on srv and bootstraps its first admin.
func (e *env) newOrg(ctx context.Context, srv *serverProc, name string) (*benchOrg, error) {
	l, err := srv.NewOrganisation(name)
	if err != nil {
		return nil, err
	}
	o := &benchOrg{srv: srv, name: name, dir: filepath.Join(srv.Dir, "..", "device-"+name+"-admin")}
	o.dir = filepath.Clean(o.dir)
	o.admin, err = client.Bootstrap(ctx, o.dir, l, client.BootstrapOptions{
		Name: "Admin", Email: "admin@" + name + ".example", DeviceLabel: "admin-device", Passphrase: passphrase,
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if o.keys, err = readKeyFile(o.dir); err != nil {
		return nil, err
	}
	if o.signKey, err = crypto.ParseSigningKey(o.keys.SigningKey); err != nil {
		return nil, err
	}
	if o.sealKey, err = crypto.ParseSealKey(o.keys.SealKey); err != nil {
		return nil, err
	}
	o.orgLink = o.keys.OrganisationLink
	if err := o.dial(); err != nil {
		return nil, err
	}
	return o, nil
}

// closeAdmin releases the admin's session (its state file is locked while
// it is open).
func (o *benchOrg) closeAdmin() {
	if o.admin != nil {
		o.admin.Close()
		o.admin = nil
	}
}

// openAdmin opens the admin's session again.
func (o *benchOrg) openAdmin(ctx context.Context) (*client.Session, error) {
	if o.admin != nil {
		return o.admin, nil
	}
	s, err := client.Open(ctx, o.dir, passphrase)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil {
		s.Close()
		return nil, err
	}
	o.admin = s
	return s, nil
}

func (o *benchOrg) close() {
	o.closeAdmin()
	if o.cc != nil {
		o.cc.Close()
	}
}

// dial opens the raw connection, every call signed as the admin's device
// (SPEC.md §6.1), TLS pinned as the client does.
func (o *benchOrg) dial() error {
	pin := o.srv.Pin
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // the pin replaces the chain check
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
			if base64.RawURLEncoding.EncodeToString(sum[:]) != pin {
				return errors.New("server key does not match the pin")
			}
			return nil
		},
	}
	orgID, deviceID, key := o.admin.Identity().OrganisationID, o.keys.DeviceID, o.signKey
	sign := func(c context.Context, method string, req any, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		c, err := wire.SignOutgoing(c, key, method, orgID, deviceID, time.Now(), crypto.RandomBytes(wire.NonceSize), req.(proto.Message))
		if err != nil {
			return err
		}
		return invoker(c, method, req, reply, cc, opts...)
	}
	cc, err := grpc.NewClient("passthrough:///"+o.srv.Addr,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithChainUnaryInterceptor(sign),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(32<<20)))
	if err != nil {
		return err
	}
	o.cc, o.api = cc, coffrev1.NewCoffreServiceClient(cc)
	return nil
}

// benchUser is a user made through the fast path, with one device.
type benchUser struct {
	ID, Email, DeviceID string
	Sign                *crypto.SigningKey
	Seal                *crypto.SealKey
	Dir                 string // device directory, if a key file was written
}

// verifiedState fetches and verifies the organisation log from the root
// key (the admin's own session state may be behind).
func (o *benchOrg) verifiedState(ctx context.Context) (*certificate.Organisation, error) {
	s, err := o.openAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return s.Organisation().Clone(), nil
}

// publish signs statements as the admin's device after org's head and
// appends them, at most 100 certificates per call (the server's limit),
// applying each batch to org as a client would.
func (o *benchOrg) publish(ctx context.Context, org *certificate.Organisation, stmts []certificate.Statement) error {
	const batch = 100
	for start := 0; start < len(stmts); start += batch {
		part := stmts[start:min(start+batch, len(stmts))]
		certs, err := org.SignNext(o.signKey, o.keys.DeviceID, time.Now(), part...)
		if err != nil {
			return err
		}
		for _, c := range certs {
			if _, err := org.Apply(org.Head.Position+1, c); err != nil {
				return fmt.Errorf("applying our own certificate: %w", err)
			}
		}
		if _, err := o.api.AppendCertificates(ctx, &coffrev1.AppendCertificatesRequest{Certificates: certs}); err != nil {
			return fmt.Errorf("appending certificates: %w", err)
		}
	}
	return nil
}

// addUsers creates n standard users with one device each, through the
// fast path. With keyFiles, each device gets a directory with a key file
// that client.Open unlocks, as if it had been enrolled.
func (o *benchOrg) addUsers(ctx context.Context, n int, keyFiles bool) ([]*benchUser, error) {
	org, err := o.verifiedState(ctx)
	if err != nil {
		return nil, err
	}
	users := make([]*benchUser, 0, n)
	var stmts []certificate.Statement
	for range n {
		o.nextUser++
		u := &benchUser{ID: certificate.NewID(), DeviceID: certificate.NewID(), Email: fmt.Sprintf("user%05d@%s.example", o.nextUser, o.name)}
		if u.Sign, err = crypto.GenerateSigningKey(); err != nil {
			return nil, err
		}
		if u.Seal, err = crypto.GenerateSealKey(); err != nil {
			return nil, err
		}
		stmts = append(stmts,
			certificate.UserCreated{UserID: u.ID, Name: fmt.Sprintf("User %d", o.nextUser), Email: u.Email, Profile: certificate.ProfileStandard, SealKey: u.Seal.Public()},
			certificate.DeviceAdded{DeviceID: u.DeviceID, UserID: u.ID, Label: "device", VerifyKey: u.Sign.Public()})
		users = append(users, u)
	}
	if err := o.publish(ctx, org, stmts); err != nil {
		return nil, err
	}
	if keyFiles {
		for _, u := range users {
			u.Dir = filepath.Join(filepath.Dir(o.dir), fmt.Sprintf("device-%s-%s", o.name, u.ID[:12]))
			err := writeKeyFile(u.Dir, keyFile{
				Version: 1, OrganisationLink: o.orgLink, OrganisationName: o.keys.OrganisationName,
				UserID: u.ID, DeviceID: u.DeviceID, DeviceLabel: "device-" + u.ID[:6],
				SigningKey: u.Sign.Bytes(), SealKey: u.Seal.Bytes(), StateKey: crypto.NewSecretKey().Bytes(),
			})
			if err != nil {
				return nil, err
			}
		}
	}
	// The admin's session catches up (and verifies what was published).
	if err := o.admin.Sync(ctx); err != nil {
		return nil, err
	}
	return users, nil
}

// share makes users contributors of a vault the admin owns, each with the
// newest key sealed to them, through the fast path.
func (o *benchOrg) share(ctx context.Context, vaultID string, users []*benchUser) error {
	org, err := o.verifiedState(ctx)
	if err != nil {
		return err
	}
	v, ok := org.Vault(vaultID)
	if !ok {
		return fmt.Errorf("no vault %s", vaultID)
	}
	keys, err := workspace.OpenKeys(org, v, o.keys.UserID, o.sealKey)
	if err != nil {
		return err
	}
	index, key := keys.Newest()
	var stmts []certificate.Statement
	for _, bu := range users {
		u, ok := org.User(bu.ID)
		if !ok {
			return fmt.Errorf("no user %s", bu.ID)
		}
		sealed, err := workspace.SealKeyTo(org.ID, v.ID, index, u, key)
		if err != nil {
			return err
		}
		stmts = append(stmts, certificate.VaultRoleSet{VaultID: v.ID, UserID: u.ID, Role: certificate.RoleContributor,
			Key: &certificate.SealedKey{UserID: u.ID, Sealed: sealed}, KeyIndex: index})
	}
	if err := o.publish(ctx, org, stmts); err != nil {
		return err
	}
	return o.admin.Sync(ctx)
}

// orgID is the organisation's id.
func (o *benchOrg) orgID() string {
	l, _ := link.Parse(o.orgLink)
	return l.OrganisationID
}
