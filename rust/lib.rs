//! relaywire's Rust core.
//!
//! The modules at this level are plain Rust with no knowledge of Python, so `cargo test`
//! covers them without an interpreter. The pyo3 glue lives in [`python`] and is compiled only
//! with the `python` feature, which maturin enables when it builds `relaywire._native`.

pub mod adapt;
pub mod batch;
pub mod columns;
pub mod daguito;
pub mod datetime;
pub mod ed25519;
pub mod encoding;
pub mod envelope;
pub mod form;
pub mod generic;
pub mod json;
pub mod linktor;
pub mod mac;
pub mod message;
pub mod providers;
pub mod scheme;
pub mod standard;
pub mod timestamp;
pub mod wsframe;

#[cfg(feature = "python")]
mod python;
