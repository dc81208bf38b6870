#!/usr/bin/env bash
# Builds the real control-plane programs the end-to-end tests and the demo run: kube-apiserver,
# kube-controller-manager and kubectl (Kubernetes), etcd and helm, and promtool (Prometheus) for the
# alerting-rule tests, from their published Go modules; and the test node's programs: kubelet,
# kube-scheduler and kube-proxy (same Kubernetes module) and the pod sandbox's `pause`
# (tests/node/pause). The node's runtime (containerd, runc, CNI plugins) comes from Debian's
# packages, installed by tests/node/setup.sh, which this script runs (unless CRDB_NODE_SETUP=0).
#
# Each program is built once into a cache outside the repository, keyed by the wrapper module's
# go.mod/go.sum (which pin the versions), so a warm machine pays nothing and a version bump rebuilds.
# Prints the directory holding the binaries as the last line on stdout; progress goes to stderr.
#
#   CRDB_TESTENV_CACHE   cache root (default: $XDG_CACHE_HOME or ~/.cache, /crdb-cloud-operator/testenv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${CRDB_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crdb-cloud-operator/testenv}

log() { printf '[testenv] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "go is required to build the control plane (Go >= 1.24)"; exit 1; }

# Version of a module required by a wrapper's go.mod ("require X vN" or inside a require block).
required_version() {
  awk -v mod="$2" '$1 == mod { print $2; exit } $1 == "require" && $2 == mod { print $3; exit }' "$here/$1/go.mod"
}

# Cache key: name (default: the wrapper's), pinned version and a hash of the wrapper's module
# files (and of its own sources, for a wrapper that has any).
cache_dir_for() {
  local wrapper=$1 version=$2 name=${3:-$1} hash
  hash=$(cat "$here/$wrapper"/go.mod "$here/$wrapper"/go.sum $(ls "$here/$wrapper"/*.go 2>/dev/null) | sha256sum | cut -c1-12)
  printf '%s/%s-%s-%s' "$cache_root" "$name" "$version" "$hash"
}

# build WRAPPER OUTPUT_DIR LDFLAGS PACKAGE:BINARY...   (extra build tags in $extra_tags)
build() {
  local wrapper=$1 out=$2 ldflags=$3; shift 3
  local tmp="$out.partial.$$"
  mkdir -p "$tmp"
  for spec in "$@"; do
    local pkg=${spec%%:*} bin=${spec##*:}
    log "building $bin ($pkg) - a cold build takes minutes"
    local started=$SECONDS
    (cd "$here/$wrapper" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
        -tags "selinux,notest,grpcnotrace${extra_tags:+,$extra_tags}" -ldflags "-s -w $ldflags" -o "$tmp/$bin" "$pkg")
    log "built $bin in $((SECONDS - started))s"
  done
  # Publish atomically so an interrupted build is never mistaken for a finished one.
  rm -rf "$out"; mv "$tmp" "$out"
}

k8s_version=$(required_version kube k8s.io/kubernetes)
etcd_version=$(required_version etcd go.etcd.io/etcd/server/v3)
helm_version=$(required_version helm helm.sh/helm/v3)
prom_version=$(required_version prometheus github.com/prometheus/prometheus)
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)

kube_dir=$(cache_dir_for kube "$k8s_version")
etcd_dir=$(cache_dir_for etcd "$etcd_version")
helm_dir=$(cache_dir_for helm "$helm_version")
prom_dir=$(cache_dir_for prometheus "$prom_version")
# The node's programs: own cache key (same wrapper and version), so they build apart from the
# control plane's and a node-only change never rebuilds the apiserver.
node_dir=$(cache_dir_for kube "$k8s_version" kube-node)
pause_dir=$(cache_dir_for ../node/pause v1 pause)

if [ "${CRDB_NODE_SETUP:-1}" != 0 ]; then
  bash "$here/../node/setup.sh"
fi

# Without these the binaries report v0.0.0 and helm's kubeVersion checks fail.
kube_ld=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ld="$kube_ld -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  kube_ld="$kube_ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
if [ ! -x "$kube_dir/kube-apiserver" ]; then
  build kube "$kube_dir" "$kube_ld" \
    k8s.io/kubernetes/cmd/kube-apiserver:kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager:kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl:kubectl
fi

if [ ! -x "$node_dir/kubelet" ]; then
  # Reuses the apiserver's compiled packages from Go's build cache: about a minute more.
  build kube "$node_dir" "$kube_ld" \
    k8s.io/kubernetes/cmd/kubelet:kubelet \
    k8s.io/kubernetes/cmd/kube-scheduler:kube-scheduler \
    k8s.io/kubernetes/cmd/kube-proxy:kube-proxy
fi

if [ ! -x "$pause_dir/pause" ]; then
  build ../node/pause "$pause_dir" "" .:pause
fi

if [ ! -x "$etcd_dir/etcd" ]; then
  build etcd "$etcd_dir" "" go.etcd.io/etcd/server/v3:etcd
fi

if [ ! -x "$helm_dir/helm" ]; then
  helm_ld="-X helm.sh/helm/v3/internal/version.version=$helm_version"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    helm_ld="$helm_ld -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  build helm "$helm_dir" "$helm_ld" helm.sh/helm/v3/cmd/helm:helm
fi

if [ ! -x "$prom_dir/promtool" ]; then
  # remove_all_sd (Prometheus' own build tag) leaves out the service-discovery plugins and with them
  # the cloud SDKs (AWS, Azure, GCE, ...): promtool needs them only for `check service-discovery`,
  # which the tests do not use. Kubernetes discovery stays (promtool imports it directly).
  # Prometheus 3.x publishes its Go module as v0.3MM.P for release 3.MM.P.
  prom_release=${prom_version#v}
  if [[ $prom_version =~ ^v0\.3([0-9]{2})\.([0-9]+)$ ]]; then
    prom_release="3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
  fi
  prom_ld="-X github.com/prometheus/common/version.Version=$prom_release"
  extra_tags=remove_all_sd build prometheus "$prom_dir" "$prom_ld" \
    github.com/prometheus/prometheus/cmd/promtool:promtool
fi

# One directory with every binary, so callers put a single entry on PATH.
bin="$cache_root/bin-k8s$k8s_version-etcd$etcd_version-helm$helm_version-prom$prom_version-node"
mkdir -p "$bin"
for f in "$kube_dir"/* "$node_dir"/* "$pause_dir"/* "$etcd_dir"/* "$helm_dir"/* "$prom_dir"/*; do ln -sf "$f" "$bin/$(basename "$f")"; done
log "control plane ready: $("$bin/kube-apiserver" --version 2>&1), etcd $etcd_version, helm $helm_version, promtool $prom_version"
echo "$bin"
