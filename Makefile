# The two commands (see README.md):
#   make demo   local control plane + Cloud API simulator + operator, applies deploy/examples, shows them Ready
#   make test   the whole test suite (what CI runs)
#   make bench  the scale benchmark (figures, not pass/fail)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test testenv crds lint bench

# Builds (once, cached outside the repo) kube-apiserver, etcd, kubectl, helm and promtool, and the
# test node's kubelet, kube-scheduler, kube-proxy and pause; installs the node's runtime
# (containerd, runc, CNI plugins, iptables, conntrack, socat) from Debian's packages when missing.
testenv:
	@bash tests/controlplane/build.sh >/dev/null

# DEMO_ARGS=--exit stops once everything is Ready. NODE=1 runs the real install path instead: a
# node (kubelet, containerd; root only), the image built here, helm install, the operator's pods.
demo: testenv
	$(CARGO) build --quiet --bin crdb-cloud-operator
	CRDB_TESTENV_BIN="$$(bash tests/controlplane/build.sh)" $(CARGO) run --quiet --example demo -- $(DEMO_ARGS) $(if $(filter-out 0,$(NODE)),--on-node)

# The scale benchmark (not a test: it prints figures and writes tests/benchmark/RESULTS.md; about
# 30 minutes). BENCH_ARGS="--scenarios 1,3" runs a subset; see examples/bench.rs.
bench: testenv
	$(CARGO) build --release --quiet --bin crdb-cloud-operator
	CRDB_OPERATOR_BIN="$(CURDIR)/target/release/crdb-cloud-operator" CRDB_TESTENV_BIN="$$(bash tests/controlplane/build.sh)" \
		$(CARGO) run --quiet --example bench -- $(BENCH_ARGS)

test:
	CRDB_TESTENV_BIN="$$(bash tests/controlplane/build.sh)" $(CARGO) test --workspace --all-targets -- --test-threads=4

# Regenerates the committed CRD YAML from the Rust types, and its copies in the chart and deploy/
# (Helm and kustomize only read files inside their own directories; tests keep the copies equal),
# then deploy/'s manifests from the chart (its RBAC rules name every kind of the CRDs).
crds: testenv
	$(CARGO) run --quiet -- crds > crds/crdbcloud.io.yaml
	cp crds/crdbcloud.io.yaml charts/crdb-cloud-operator/crds/crdbcloud.io.yaml
	cp crds/crdbcloud.io.yaml deploy/crds.yaml
	CRDB_UPDATE_DEPLOY=1 CRDB_TESTENV_BIN="$$(bash tests/controlplane/build.sh)" $(CARGO) test --quiet --test e2e_install deploy >/dev/null

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
