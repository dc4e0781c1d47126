//! The fuzz harness (`tests/fuzz.rs`): the targets ([`targets`], shared with the
//! `cargo fuzz` crate in `fuzz/`), the mutations of corpus inputs ([`mutate`]), the
//! time-bounded run ([`run`]) and the peak-memory counter ([`alloc`]).

pub mod alloc;
pub mod mutate;
pub mod run;
pub mod targets;
