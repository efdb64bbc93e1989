package wire

import (
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// BenchmarkSignVerifyBlock: what a 1 MiB PutBlock's request signature
// costs, client (SignRequest) and server (Verify) together.
func BenchmarkSignVerifyBlock(b *testing.B) {
	key, err := crypto.GenerateSigningKey()
	if err != nil {
		b.Fatal(err)
	}
	data := crypto.RandomBytes(1 << 20)
	const method = "/coffre.v1.CoffreService/PutBlock"
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		req := &coffrev1.PutBlockRequest{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data}
		md, err := SignRequest(key, method, "orgaaaaa", "devbbbbb", time.Now(), crypto.RandomBytes(NonceSize), req)
		if err != nil {
			b.Fatal(err)
		}
		rs, err := ParseRequestSignature(md)
		if err != nil {
			b.Fatal(err)
		}
		if err := rs.Verify(key.Public(), method, req); err != nil {
			b.Fatal(err)
		}
	}
}
