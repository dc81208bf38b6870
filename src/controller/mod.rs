//! Reconcilers, one per kind, sharing one pipeline.
