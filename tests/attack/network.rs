//! guarantees.md §2. Every byte from the network is bounded.
