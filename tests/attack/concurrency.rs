//! guarantees.md §8. Several programs at once never fail on each other.
