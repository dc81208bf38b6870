#!/usr/bin/env bash
# Installs what the test node needs from Debian's packages, only when something is missing:
# containerd, runc, the CNI plugins (/usr/lib/cni), iptables (kube-proxy), conntrack, socat (the
# tests reach the node's apiserver through it) and iproute2/util-linux (ip netns, nsenter).
# Idempotent: on a machine that has them all it runs no apt command. Needs root (as CI runs).
# Progress goes to stderr.
set -euo pipefail

log() { printf '[node-setup] %s\n' "$*" >&2; }

# package:file that proves it is installed
wanted=(
  containerd:/usr/bin/containerd
  runc:/usr/sbin/runc
  containernetworking-plugins:/usr/lib/cni/bridge
  iptables:/usr/sbin/iptables
  conntrack:/usr/sbin/conntrack
  socat:/usr/bin/socat
  iproute2:/usr/sbin/ip
  util-linux:/usr/bin/nsenter
)
missing=()
for spec in "${wanted[@]}"; do
  pkg=${spec%%:*} file=${spec#*:}
  [ -e "$file" ] && continue
  # runc's path differs between releases; accept it anywhere on PATH.
  [ "$pkg" = runc ] && command -v runc >/dev/null 2>&1 && continue
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  log "missing ${missing[*]}; the test node needs root to install and run them"
  exit 1
fi
command -v apt-get >/dev/null || { log "missing ${missing[*]} and no apt-get to install them"; exit 1; }

log "installing ${missing[*]}"
started=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# Never start the packaged services: the harness runs its own containerd with its own paths.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
log "installed ${missing[*]} in $(( $(date +%s) - started ))s"
