//! The support engineer's kit (support.md): the diagnostic bundle, signed profile packs, and
//! the ledger lookup. Each is given its folders by the front end.

pub mod diagnose;
pub mod lookup;
pub mod pack;

use std::path::PathBuf;

/// The per-user folders the kit reads and writes.
#[derive(Debug, Clone, Default)]
pub struct Folders {
    /// The config folder (`profiles/`, `targets/`, `sources/`, `settings.toml`, packs).
    pub config: Option<PathBuf>,
    /// The data folder (outbox, ledger, history, `logs/`).
    pub data: Option<PathBuf>,
}
