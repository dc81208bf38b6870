//! A faithful in-process CockroachDB Cloud API, served by `crdb-cloud-operator simulator`.
