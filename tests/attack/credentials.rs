//! guarantees.md §1. Credentials go where they belong, and nowhere else.
