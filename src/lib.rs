//! SheetBridge (核酸结果上报助手): turns a city nucleic-acid test export into the provincial
//! CDC's upload sheet, checking every row on the way.
//!
//! One pipeline serves both front ends: [`pipeline::load`] reads a file into a checked
//! [`batch::Batch`], which [`write`] turns into the upload sheet and the rejected rows, and
//! [`report`] into the JSON report. The library never prints and never exits.

pub mod batch;
pub mod bounded;
pub mod credentials;
pub mod digest;
pub mod edits;
pub mod guess;
pub mod issue;
pub mod log;
pub mod message;
pub mod named;
pub mod paths;
pub mod pipeline;
pub mod privacy;
pub mod profile;
pub mod read;
pub mod report;
pub mod rules;
pub mod source;
pub mod support;
pub mod unattended;
pub mod upload;
pub mod validate;
pub mod workspace;
pub mod write;
