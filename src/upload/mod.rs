//! Direct upload (issue 4): targets (how to reach a platform), the HTTP client, the outbox that
//! loses nothing and sends nothing twice, and the ledger of confirmed rows.
//!
//! [`target::Target`] describes a platform; [`outbox::Outbox`] keeps batches and their states in
//! SQLite; [`send::send_due`] sends what is due through [`client::Client`] and applies each
//! outcome to the outbox in one transaction.

pub mod client;
pub mod daily;
pub mod db;
pub mod keyed;
pub mod outbox;
pub mod send;
pub mod target;

pub mod process;
