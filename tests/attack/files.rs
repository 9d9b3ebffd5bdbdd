//! guarantees.md §7. Every file read from outside is bounded.
