// The pod sandbox's "pause" program for the test node (see tests/controlplane/build.sh): the
// node has no registry to pull registry.k8s.io/pause from, so it is built here and imported.
module crdbcloud.io/testenv/pause

go 1.24.0
