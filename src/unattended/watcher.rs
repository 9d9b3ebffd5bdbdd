//! A watcher of one folder as every front end runs it: `watch` (and `watch --once`) on the
//! command line and the window's watcher on its sender thread hold a [`Watcher`] and call
//! [`Watcher::pass`], so both take the same files the same way (settled by our own clock over
//! the passes of this one watcher, links never followed) through the one [`Workflow`].

use super::handle::Workflow;
use super::journal::Journal;
use super::watch::{FileReport, Pass, Settle, Watch, WatchError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One watched folder and what its earlier passes saw of the files still settling.
#[derive(Debug)]
pub struct Watcher {
    folder: PathBuf,
    data_dir: PathBuf,
    settle: Duration,
    tracker: Settle,
}

impl Watcher {
    /// A watcher of `folder` whose files must be unchanged for `settle` before one is taken;
    /// `data_dir` holds the journal and the claims.
    pub fn new(folder: PathBuf, data_dir: PathBuf, settle: Duration) -> Watcher {
        Watcher {
            folder,
            data_dir,
            settle,
            tracker: Settle::default(),
        }
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// How long a file must be unchanged.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// One pass over the folder: every settled new file converted, queued and moved (see
    /// [`Watch::pass`]); `on_file` hears each file as soon as it has moved.
    pub fn pass(
        &mut self,
        journal: &Journal,
        workflow: &mut Workflow,
        on_file: &mut dyn FnMut(&FileReport),
    ) -> Result<Pass, WatchError> {
        let watch = Watch {
            folder: &self.folder,
            data_dir: &self.data_dir,
            settle: self.settle,
        };
        watch.pass(journal, workflow, &mut self.tracker, on_file)
    }
}
