//! Integration tests, one binary: fixtures are generated in code (rust_xlsxwriter, plain text)
//! or by `tests/fixtures/make_fixtures.py`, and written sheets are checked by reading them back.

// Tests name paths in their own failure messages, raw: the rule that paths in output go through
// `paths::shown` (clippy.toml) is the program's.
#![allow(clippy::disallowed_methods)]

mod support;

mod attack;
mod checks;
mod cli;
mod corpus;
mod daily;
mod edit;
mod formats;
mod fuzz;
mod hostile;
mod kit;
mod rules;
mod unattended;
mod upload;
mod window;
