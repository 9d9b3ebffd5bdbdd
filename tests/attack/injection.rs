//! guarantees.md §3. Outside text is data, never code.
