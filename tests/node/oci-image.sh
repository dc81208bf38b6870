#!/usr/bin/env bash
# Writes an OCI image archive (oci-layout, index.json, manifest, config and one layer, sha256
# digests) without a container engine, for `ctr images import` on the test node or any registry
# tool (`skopeo copy oci-archive:...`, `crane push`). Reproducible: the same inputs give the same
# bytes (fixed timestamps, owners and file order).
#
#   oci-image.sh operator BINARY OUT.tar REF   the operator image: the same entrypoint, user, working
#                                              directory, port and labels as the Dockerfile's final
#                                              stage (tests/e2e_node.rs keeps them equal). BINARY is
#                                              normally target/release/crdb-cloud-operator.
#   oci-image.sh pause BINARY OUT.tar REF      the pod sandbox image (BINARY: tests/node/pause).
#
# The Dockerfile's base (distroless/cc) supplies glibc and CA certificates; here the layer carries
# the shared libraries the binary links (as `ldd` finds them on this machine), the CA bundle and
# distroless' /etc/passwd entries, so the same binary runs the same way.
set -euo pipefail

kind=${1:?usage: oci-image.sh operator|pause BINARY OUT.tar REF}
binary=${2:?binary}
out=${3:?output archive}
ref=${4:?image reference, e.g. crdb-cloud-operator:dev}
[ -x "$binary" ] || { echo "oci-image.sh: $binary is not an executable" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs blobs=$work/image/blobs/sha256
mkdir -p "$root" "$blobs"

case $(uname -m) in
  x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;;
esac

# Canonical JSON string (the values here are plain ASCII without quotes or backslashes).
q() { printf '"%s"' "$1"; }

case $kind in
  operator)
    install -m 0755 "$binary" "$root/crdb-cloud-operator"
    # The dynamic loader and libraries, at the paths the binary asks for.
    ldd "$binary" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot"
    chmod 1777 "$root/tmp"
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
      cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    fi
    # distroless' users.
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$root/etc/group"
    # Keep in step with the Dockerfile's final stage (USER, WORKDIR, ENTRYPOINT, EXPOSE, LABEL).
    user=65532:65532
    workdir=/
    entrypoint='["/crdb-cloud-operator","run"]'
    exposed='{"8080/tcp":{}}'
    labels="{$(q org.opencontainers.image.description):$(q 'CockroachDB Cloud operator for Kubernetes'),$(q org.opencontainers.image.licenses):$(q Apache-2.0),$(q org.opencontainers.image.source):$(q https://github.com/crdbcloud/crdb-cloud-operator),$(q org.opencontainers.image.title):$(q crdb-cloud-operator)}"
    env='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"]'
    ;;
  pause)
    install -m 0755 "$binary" "$root/pause"
    user=65535:65535 workdir=/ entrypoint='["/pause"]' exposed='{}' labels='{}' env='["PATH=/"]'
    ;;
  *) echo "oci-image.sh: unknown image kind $kind" >&2; exit 1 ;;
esac

# Reproducible tar: sorted names, epoch mtimes, root-owned, no atime/ctime.
rtar() {
  local dir=$1 dest=$2
  find "$dir" -exec touch -h -d @0 {} +
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$dir" -cf "$dest" .
}

# put FILE: stores FILE as a blob, prints "sha256:HEX SIZE".
put() {
  local hex size
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$blobs/$hex"
  echo "sha256:$hex $size"
}

rtar "$root" "$work/layer.tar"
read -r layer_digest layer_size < <(put "$work/layer.tar")

printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"User":"%s","Env":%s,"Entrypoint":%s,"WorkingDir":"%s","ExposedPorts":%s,"Labels":%s},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"tests/node/oci-image.sh %s"}]}' \
  "$arch" "$user" "$env" "$entrypoint" "$workdir" "$exposed" "$labels" "$layer_digest" "$kind" > "$work/config.json"
read -r config_digest config_size < <(put "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" > "$work/manifest.json"
read -r manifest_digest manifest_size < <(put "$work/manifest.json")

tag=${ref##*:}
[ "$tag" = "$ref" ] && tag=latest
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest_digest" "$manifest_size" "$arch" "$ref" "$tag" > "$work/image/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/image/oci-layout"

mkdir -p "$(dirname "$out")"
rtar "$work/image" "$out.partial.$$"
mv "$out.partial.$$" "$out"
echo "$manifest_digest"
