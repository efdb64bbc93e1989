package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
)

// NewOrganisation records a new organisation named name and returns its
// bootstrap link (SPEC.md §7.3).
func NewOrganisation(ctx context.Context, st store.Store, name, address, pin string) (link.Link, error) {
	if name == "" {
		return link.Link{}, errors.New("an organisation needs a name")
	}
	token := crypto.RandomBytes(32)
	hash := sha256.Sum256(token)
	org := store.Organisation{ID: certificate.NewID(), Name: name, BootstrapTokenHash: hash[:], CreatedAt: time.Now()}
	if err := st.CreateOrganisation(ctx, org); err != nil {
		return link.Link{}, err
	}
	return link.Link{Address: address, OrganisationID: org.ID, Pin: pin, Kind: link.KindBootstrap, Token: token}, nil
}

// operator serves the operator service on a Unix socket in the data
// directory; only who can reach that file (the operator) can call it.
type operator struct {
	coffrev1.UnimplementedOperatorServiceServer
	s *Server
}

// ListenOperator opens the operator socket at path (mode 0600), replacing
// a stale one left by a crash.
func ListenOperator(path string) (net.Listener, error) {
	_ = os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		lis.Close()
		return nil, err
	}
	return lis, nil
}

// ServeOperator serves the operator service on lis until ctx ends.
func (s *Server) ServeOperator(ctx context.Context, lis net.Listener) error {
	g := grpc.NewServer()
	coffrev1.RegisterOperatorServiceServer(g, &operator{s: s})
	go func() { <-ctx.Done(); g.Stop() }()
	err := g.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

func (o *operator) CreateOrganisation(ctx context.Context, req *coffrev1.CreateOrganisationRequest) (*coffrev1.CreateOrganisationResponse, error) {
	l, err := NewOrganisation(ctx, o.s.cfg.Store, req.GetName(), o.s.cfg.PublicAddress, o.s.cfg.Pin)
	if err != nil {
		return nil, err
	}
	o.s.log.Info("organisation created", "organisation", l.OrganisationID)
	return &coffrev1.CreateOrganisationResponse{OrganisationId: l.OrganisationID, BootstrapLink: l.String()}, nil
}

func (o *operator) ListOrganisations(ctx context.Context, _ *coffrev1.ListOrganisationsRequest) (*coffrev1.ListOrganisationsResponse, error) {
	orgs, err := o.s.cfg.Store.Organisations(ctx)
	if err != nil {
		return nil, err
	}
	resp := &coffrev1.ListOrganisationsResponse{}
	for _, org := range orgs {
		resp.Organisations = append(resp.Organisations, OrganisationSummary(org))
	}
	return resp, nil
}

func (o *operator) Backup(_ *coffrev1.BackupRequest, stream coffrev1.OperatorService_BackupServer) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(o.s.cfg.Store.Backup(stream.Context(), pw)) }()
	buf := make([]byte, 1<<20)
	for {
		n, err := pr.Read(buf)
		if n > 0 {
			if err := stream.Send(&coffrev1.BackupResponse{Chunk: append([]byte(nil), buf[:n]...)}); err != nil {
				pr.CloseWithError(err)
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// OrganisationSummary is what the operator sees of an organisation.
func OrganisationSummary(org store.Organisation) *coffrev1.OrganisationSummary {
	return &coffrev1.OrganisationSummary{
		Id: org.ID, Name: org.Name, Bootstrapped: org.RootVerifyKey != nil, CreatedMs: org.CreatedAt.UnixMilli(),
		StorageLimit: org.Limits.StorageBytes, UserLimit: int32(org.Limits.Users), UsedBytes: org.UsedBytes,
	}
}

func (o *operator) SetLimits(ctx context.Context, req *coffrev1.SetLimitsRequest) (*coffrev1.SetLimitsResponse, error) {
	if req.GetStorageLimit() < 0 || req.GetUserLimit() < 0 {
		return nil, errors.New("limits can't be negative")
	}
	err := o.s.cfg.Store.SetLimits(ctx, req.GetOrganisationId(), store.Limits{StorageBytes: req.GetStorageLimit(), Users: int(req.GetUserLimit())})
	if err != nil {
		return nil, err
	}
	o.s.log.Info("organisation limits set", "organisation", req.GetOrganisationId(), "storage", req.GetStorageLimit(), "users", req.GetUserLimit())
	return &coffrev1.SetLimitsResponse{}, nil
}
