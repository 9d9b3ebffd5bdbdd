//! Field rules that need more than a pattern: text normalisers, resident IDs, date-times.

pub mod datetime;
pub mod idcard;
pub mod text;

#[cfg(test)]
mod props;
