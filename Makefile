# The two commands (see README.md):
#   make demo   local control plane + Cloud API simulator + operator, applies deploy/examples, shows them Ready
#   make test   the whole test suite (what CI runs)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test testenv crds lint

# Builds (once, cached outside the repo) kube-apiserver, etcd, kubectl, helm and exports their directory.
testenv:
	@bash tests/controlplane/build.sh >/dev/null

# DEMO_ARGS=--exit stops once everything is Ready.
demo: testenv
	$(CARGO) build --quiet --bin crdb-cloud-operator
	CRDB_TESTENV_BIN="$$(bash tests/controlplane/build.sh)" $(CARGO) run --quiet --example demo -- $(DEMO_ARGS)

test:
	CRDB_TESTENV_BIN="$$(bash tests/controlplane/build.sh)" $(CARGO) test --all-targets -- --test-threads=4

# Regenerates the committed CRD YAML from the Rust types, and its copies in the chart and deploy/
# (Helm and kustomize only read files inside their own directories; tests keep the copies equal).
crds:
	$(CARGO) run --quiet -- crds > crds/crdbcloud.io.yaml
	cp crds/crdbcloud.io.yaml charts/crdb-cloud-operator/crds/crdbcloud.io.yaml
	cp crds/crdbcloud.io.yaml deploy/crds.yaml

lint:
	$(CARGO) clippy --all-targets -- -D warnings
