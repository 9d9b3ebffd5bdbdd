//! guarantees.md §5. What is saved from a source is an export.
