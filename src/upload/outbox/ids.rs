//! The outbox's ids and hashes: a batch's stable id from its target and rows, and the hashes the
//! ledger keeps instead of a person's ID.

use crate::batch::Batch;
use crate::upload::target::Target;
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stable id of a batch: SHA-256 of the target's identity (name and base_url) and the
/// rows' output values, hex, the first 16 characters. The same rows for the same target always
/// give the same id.
pub fn batch_id(target: &Target, batch: &Batch, rows: &[usize]) -> String {
    rows_id(&target.identity(), batch, rows)
}

/// The id version 1 gave the same batch (from the target's name alone): a batch queued by it
/// and not yet sent is found under this id.
pub(super) fn legacy_batch_id(target: &Target, batch: &Batch, rows: &[usize]) -> String {
    rows_id(&target.name, batch, rows)
}

fn rows_id(target: &str, batch: &Batch, rows: &[usize]) -> String {
    let nfields = batch.profile().fields.len();
    let mut h = Sha256::new();
    h.update(target.as_bytes());
    for &i in rows {
        h.update([0x1e]);
        for f in 0..nfields {
            h.update(batch.output_value(i, f).as_bytes());
            h.update([0x1f]);
        }
    }
    let mut id = hex(&h.finalize());
    id.truncate(16);
    id
}
