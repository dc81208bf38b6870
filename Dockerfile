# syntax=docker/dockerfile:1
# The operator image: a static-ish release build on Debian bookworm, run on distroless (glibc, CA
# certificates, no shell) as the unprivileged `nonroot` user.
#
#   docker build -t crdb-cloud-operator:0.1.0 .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The workspace's other crates: the Cloud client and the simulator are built into the binary; the
# test-support crate's manifest is read to resolve the workspace (it is not compiled).
COPY crates ./crates
RUN cargo build --release --locked --bin crdb-cloud-operator

FROM gcr.io/distroless/cc-debian12:nonroot
# tests/node/oci-image.sh writes the same image without a container engine (for the test node);
# tests/e2e_node.rs keeps its entrypoint, user, working directory, port and labels equal to these.
LABEL org.opencontainers.image.title="crdb-cloud-operator" \
      org.opencontainers.image.description="CockroachDB Cloud operator for Kubernetes" \
      org.opencontainers.image.source="https://github.com/crdbcloud/crdb-cloud-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /
COPY --from=build /src/target/release/crdb-cloud-operator /crdb-cloud-operator
# distroless' nonroot user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# /healthz, /readyz and /metrics.
EXPOSE 8080
ENTRYPOINT ["/crdb-cloud-operator", "run"]
