//! guarantees.md §4. A watched folder takes only whole files that are really there.
