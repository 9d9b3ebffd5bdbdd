//! guarantees.md §6. Personal numbers are masked however they are written.
