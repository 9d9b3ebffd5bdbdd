//! Rules that need more than a pattern: text normalisers, resident IDs, date-times, and the
//! batch-wide rules (`batch.rs`). The rules of one row are in `src/validate.rs`.

pub mod batch;
pub mod datetime;
pub mod idcard;
pub mod positive;
pub mod text;

#[cfg(test)]
mod props;
