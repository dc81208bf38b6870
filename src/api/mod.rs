//! Custom resource types of the `crdbcloud.io/v1alpha1` API.
