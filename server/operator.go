package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
)

// Operator is what the server's operator does to it: the same commands
// whether the server runs, through its operator socket (DialOperator), or
// not, on the store itself (StoreOperator). The operator socket serves a
// StoreOperator, so each command is written once.
type Operator interface {
	// CreateOrganisation records a new organisation and returns its id and
	// bootstrap link (SPEC.md §7.3).
	CreateOrganisation(ctx context.Context, name string) (CreatedOrganisation, error)
	// ListOrganisations lists every organisation, by id.
	ListOrganisations(ctx context.Context) ([]OrganisationSummary, error)
	// SetLimits sets an organisation's quotas; none may be negative.
	SetLimits(ctx context.Context, orgID string, l store.Limits) error
	// Backup writes a consistent copy of the store to w.
	Backup(ctx context.Context, w io.Writer) error
	// CollectBlocks runs one block collection (SPEC.md §7.5); with dryRun
	// it deletes nothing and says what it would delete.
	CollectBlocks(ctx context.Context, dryRun bool) (Collection, error)
}

// CreatedOrganisation is what creating an organisation gives the operator.
type CreatedOrganisation struct {
	ID            string
	BootstrapLink string // holds the one-time bootstrap token
}

// OrganisationSummary is what the operator sees of an organisation.
type OrganisationSummary struct {
	ID           string
	Name         string
	Bootstrapped bool
	CreatedAt    time.Time
	Limits       store.Limits
	UsedBytes    int64
}

// ErrNegativeLimit is returned by SetLimits for a negative quota.
var ErrNegativeLimit = errors.New("limits can't be negative")

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

// StoreOperator carries out the operator's commands on a store.
type StoreOperator struct {
	Store store.Store
	// LinkParams returns the address and TLS pin that bootstrap links
	// carry; only CreateOrganisation calls it.
	LinkParams func() (address, pin string, err error)
	// Logger (nil: none) hears of every change made.
	Logger *slog.Logger
	// Collector collects blocks; nil where no block store is open (a
	// stopped server): CollectBlocks is then ErrNoBlockCollection.
	Collector *Collector
}

var _ Operator = (*StoreOperator)(nil)

func (o *StoreOperator) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// CreateOrganisation records a new organisation (NewOrganisation).
func (o *StoreOperator) CreateOrganisation(ctx context.Context, name string) (CreatedOrganisation, error) {
	address, pin, err := o.LinkParams()
	if err != nil {
		return CreatedOrganisation{}, err
	}
	l, err := NewOrganisation(ctx, o.Store, name, address, pin)
	if err != nil {
		return CreatedOrganisation{}, err
	}
	o.log().Info("organisation created", "organisation", l.OrganisationID)
	return CreatedOrganisation{ID: l.OrganisationID, BootstrapLink: l.String()}, nil
}

// ListOrganisations lists every organisation, by id.
func (o *StoreOperator) ListOrganisations(ctx context.Context) ([]OrganisationSummary, error) {
	orgs, err := o.Store.Organisations(ctx)
	if err != nil {
		return nil, err
	}
	sums := make([]OrganisationSummary, 0, len(orgs))
	for _, org := range orgs {
		sums = append(sums, OrganisationSummary{
			ID: org.ID, Name: org.Name, Bootstrapped: org.RootVerifyKey != nil, CreatedAt: org.CreatedAt,
			Limits: org.Limits, UsedBytes: org.UsedBytes,
		})
	}
	return sums, nil
}

// SetLimits sets an organisation's quotas (ErrNegativeLimit).
func (o *StoreOperator) SetLimits(ctx context.Context, orgID string, l store.Limits) error {
	if l.StorageBytes < 0 || l.Users < 0 {
		return ErrNegativeLimit
	}
	if err := o.Store.SetLimits(ctx, orgID, l); err != nil {
		return err
	}
	o.log().Info("organisation limits set", "organisation", orgID, "storage", l.StorageBytes, "users", l.Users)
	return nil
}

// Backup writes a consistent copy of the store to w.
func (o *StoreOperator) Backup(ctx context.Context, w io.Writer) error { return o.Store.Backup(ctx, w) }

// CollectBlocks runs one block collection.
func (o *StoreOperator) CollectBlocks(ctx context.Context, dryRun bool) (Collection, error) {
	if o.Collector == nil {
		return Collection{}, ErrNoBlockCollection
	}
	return o.Collector.Collect(ctx, dryRun)
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

// ServeOperator serves the operator service on lis until ctx ends; only
// who can reach that socket (the operator) can call it.
func (s *Server) ServeOperator(ctx context.Context, lis net.Listener) error {
	g := grpc.NewServer()
	coffrev1.RegisterOperatorServiceServer(g, &operatorService{op: &StoreOperator{
		Store:      s.cfg.Store,
		LinkParams: func() (string, string, error) { return s.cfg.PublicAddress, s.cfg.Pin, nil },
		Logger:     s.log,
		Collector:  s.collector(),
	}})
	go func() { <-ctx.Done(); g.Stop() }()
	err := g.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// operatorService is the operator socket's edge: it turns calls into
// Operator commands and their results into wire messages.
type operatorService struct {
	coffrev1.UnimplementedOperatorServiceServer
	op Operator
}

func (o *operatorService) CreateOrganisation(ctx context.Context, req *coffrev1.CreateOrganisationRequest) (*coffrev1.CreateOrganisationResponse, error) {
	created, err := o.op.CreateOrganisation(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return &coffrev1.CreateOrganisationResponse{OrganisationId: created.ID, BootstrapLink: created.BootstrapLink}, nil
}

func (o *operatorService) ListOrganisations(ctx context.Context, _ *coffrev1.ListOrganisationsRequest) (*coffrev1.ListOrganisationsResponse, error) {
	orgs, err := o.op.ListOrganisations(ctx)
	if err != nil {
		return nil, err
	}
	resp := &coffrev1.ListOrganisationsResponse{}
	for _, org := range orgs {
		resp.Organisations = append(resp.Organisations, &coffrev1.OrganisationSummary{
			Id: org.ID, Name: org.Name, Bootstrapped: org.Bootstrapped, CreatedMs: org.CreatedAt.UnixMilli(),
			StorageLimit: org.Limits.StorageBytes, UserLimit: int32(org.Limits.Users), UsedBytes: org.UsedBytes,
		})
	}
	return resp, nil
}

func (o *operatorService) SetLimits(ctx context.Context, req *coffrev1.SetLimitsRequest) (*coffrev1.SetLimitsResponse, error) {
	l := store.Limits{StorageBytes: req.GetStorageLimit(), Users: int(req.GetUserLimit())}
	if err := o.op.SetLimits(ctx, req.GetOrganisationId(), l); err != nil {
		return nil, err
	}
	return &coffrev1.SetLimitsResponse{}, nil
}

func (o *operatorService) Backup(_ *coffrev1.BackupRequest, stream coffrev1.OperatorService_BackupServer) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(o.op.Backup(stream.Context(), pw)) }()
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

func (o *operatorService) CollectBlocks(ctx context.Context, req *coffrev1.CollectBlocksRequest) (*coffrev1.CollectBlocksResponse, error) {
	col, err := o.op.CollectBlocks(ctx, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &coffrev1.CollectBlocksResponse{
		Vaults: int64(col.Vaults), VaultsUndeclared: int64(col.VaultsUndeclared),
		BlocksDeleted: int64(col.Deleted), BytesDeleted: col.DeletedBytes,
		BlocksReferenced: int64(col.Referenced), BlocksRecent: int64(col.Recent), DryRun: col.DryRun,
	}, nil
}

// OperatorClient carries out the operator's commands through a running
// server's operator socket.
type OperatorClient struct {
	cc  *grpc.ClientConn
	api coffrev1.OperatorServiceClient
}

var _ Operator = (*OperatorClient)(nil)

// DialOperator connects to the operator socket at path and checks that a
// server answers there.
func DialOperator(ctx context.Context, path string) (*OperatorClient, error) {
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	c := &OperatorClient{cc: cc, api: coffrev1.NewOperatorServiceClient(cc)}
	if _, err := c.api.ListOrganisations(ctx, &coffrev1.ListOrganisationsRequest{}); err != nil {
		cc.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *OperatorClient) Close() error { return c.cc.Close() }

// CreateOrganisation asks the server to create an organisation.
func (c *OperatorClient) CreateOrganisation(ctx context.Context, name string) (CreatedOrganisation, error) {
	resp, err := c.api.CreateOrganisation(ctx, &coffrev1.CreateOrganisationRequest{Name: name})
	if err != nil {
		return CreatedOrganisation{}, err
	}
	return CreatedOrganisation{ID: resp.GetOrganisationId(), BootstrapLink: resp.GetBootstrapLink()}, nil
}

// ListOrganisations asks the server for every organisation.
func (c *OperatorClient) ListOrganisations(ctx context.Context) ([]OrganisationSummary, error) {
	resp, err := c.api.ListOrganisations(ctx, &coffrev1.ListOrganisationsRequest{})
	if err != nil {
		return nil, err
	}
	sums := make([]OrganisationSummary, 0, len(resp.GetOrganisations()))
	for _, o := range resp.GetOrganisations() {
		sums = append(sums, OrganisationSummary{
			ID: o.GetId(), Name: o.GetName(), Bootstrapped: o.GetBootstrapped(), CreatedAt: time.UnixMilli(o.GetCreatedMs()),
			Limits: store.Limits{StorageBytes: o.GetStorageLimit(), Users: int(o.GetUserLimit())}, UsedBytes: o.GetUsedBytes(),
		})
	}
	return sums, nil
}

// SetLimits asks the server to set an organisation's quotas.
func (c *OperatorClient) SetLimits(ctx context.Context, orgID string, l store.Limits) error {
	_, err := c.api.SetLimits(ctx, &coffrev1.SetLimitsRequest{OrganisationId: orgID, StorageLimit: l.StorageBytes, UserLimit: int32(l.Users)})
	return err
}

// Backup streams the server's backup to w.
func (c *OperatorClient) Backup(ctx context.Context, w io.Writer) error {
	stream, err := c.api.Backup(ctx, &coffrev1.BackupRequest{})
	if err != nil {
		return err
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(chunk.GetChunk()); err != nil {
			return err
		}
	}
}

// CollectBlocks asks the server to run one block collection.
func (c *OperatorClient) CollectBlocks(ctx context.Context, dryRun bool) (Collection, error) {
	resp, err := c.api.CollectBlocks(ctx, &coffrev1.CollectBlocksRequest{DryRun: dryRun})
	if err != nil {
		return Collection{}, err
	}
	return Collection{
		DryRun: resp.GetDryRun(), Vaults: int(resp.GetVaults()), VaultsUndeclared: int(resp.GetVaultsUndeclared()),
		Deleted: int(resp.GetBlocksDeleted()), DeletedBytes: resp.GetBytesDeleted(),
		Referenced: int(resp.GetBlocksReferenced()), Recent: int(resp.GetBlocksRecent()),
	}, nil
}
