# syntax=docker/dockerfile:1
#
# The retention image: a release build of the CLI on a distroless base, running as
# the distroless "nonroot" user (uid and gid 65532), which the Helm chart's
# securityContext expects. Build from the repository root:
#
#   docker build -t retention:0.1.0 .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and the target directory between builds; the
# binary is copied out of the cached target directory before the stage ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin retention \
    && install -D -m 0755 target/release/retention /out/retention

# glibc, libgcc and CA certificates, and nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/retention /usr/local/bin/retention
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/retention"]
CMD ["--help"]
