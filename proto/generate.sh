#!/usr/bin/env bash
# Regenerates proto/gen from proto/coffre with buf and the Go plugins,
# building them with `go install` at pinned versions if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(go env GOPATH)/bin"
export PATH="$bin:$PATH"
command -v buf >/dev/null || go install github.com/bufbuild/buf/cmd/buf@v1.75.0
command -v protoc-gen-go >/dev/null || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
command -v protoc-gen-go-grpc >/dev/null || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
buf lint
rm -rf proto/gen
buf generate
