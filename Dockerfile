# syntax=docker/dockerfile:1
#
# The gameday image: gameday and the reference backend it plays local game
# days against (refapp, found beside gameday), both static, run as a
# non-root user. Build context is the repository root:
#
#   docker build -t gameday:dev .
#   docker run --rm gameday:dev run quickstart --time-scale 0.25
#
# A game day against your own system mounts its scenario:
#
#   docker run --rm -v "$PWD:/work" -w /work gameday:dev run my.yaml --out /work/runs

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION}" -o /out/gameday ./cmd/gameday && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false -ldflags="-s -w" \
      -o /out/refapp ./reference-app/cmd/refapp

# distroless static: no shell, no package manager; CA certificates and the
# nonroot user (65532). gameday writes its run directories under the
# working directory: /home/nonroot, the user's own.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gameday /out/refapp /usr/local/bin/
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/gameday"]
CMD ["--help"]
