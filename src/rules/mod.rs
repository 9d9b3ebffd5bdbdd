//! Rules that need more than a pattern: text normalisers, resident IDs, date-times. The rules of
//! one row are in `src/validate.rs`; the batch-wide rules are a child of the batch
//! (`src/batch/rules.rs`).

pub mod datetime;
pub mod idcard;
pub mod positive;
pub mod text;

#[cfg(test)]
mod props;
