//! The window's part in uploading: the credentials at hand, queueing the batch on screen,
//! starting and resuming the sender, and following what the window's watcher did.

use super::jobs::Job;
use super::{App, Notice, Screen, upload};
use eframe::egui;

impl App {
    pub(super) fn credentials(&self) -> Option<upload::Session> {
        let target = self.target().ok()?;
        upload::credentials(
            &target,
            &self.settings.user,
            &self.runtime.uploads.password,
            self.runtime.remembered.as_ref(),
        )
    }

    /// Follows what the window's watcher did: batches it queued are sent (with the
    /// credentials at hand), and a fixed file that left 需要处理/ is followed to its new place.
    pub(super) fn follow_unattended(&mut self) {
        if std::mem::take(&mut self.runtime.uploads.pass_queued) {
            match self.credentials() {
                Some(creds) => self.runtime.uploads.start_sending(creds),
                None => {
                    self.ui.notice = Some(Notice::error(self.lang().pick(
                        "自动上报已把新文件放进上传队列，但还没有密码：请在“设置”里填写密码，并勾选“记住密码（自动上报需要）”。",
                        "Unattended reporting queued a new file, but there is no password: enter it in Settings and tick \"Remember the password\".",
                    )));
                }
            }
        }
        if let Some((from, to)) = self.runtime.uploads.moved.take() {
            if self.session.source.as_ref() == Some(&from) {
                self.session.source = Some(to.clone());
                if let Some(batch) = self.batch_mut() {
                    batch.source.path = to.clone();
                }
                if let Some(dir) = to.parent() {
                    self.settings.last_dir = Some(dir.to_owned());
                }
            }
            for e in self
                .runtime
                .history
                .iter_mut()
                .filter(|e| e.source.as_ref() == Some(&from))
            {
                e.source = Some(to.clone());
            }
            self.save_history();
        }
    }

    /// The state told truly: when the platform has confirmed what was queued, the rows on
    /// screen read 已上报 and the history says 省平台已确认 N 行 (for a file queued in an
    /// earlier run too, once its batches are confirmed).
    pub(super) fn follow_confirmed(&mut self) {
        let uploads = &self.runtime.uploads;
        if let Screen::Review(review) = &mut self.session.screen {
            review.follow_confirmed(|ids| uploads.all_confirmed(ids));
        }
        let mut changed = false;
        for e in &mut self.runtime.history {
            if e.confirmed == 0 && uploads.all_confirmed(&e.batches) {
                e.confirmed = e.queued;
                changed = true;
            }
        }
        if changed {
            self.save_history();
        }
    }

    pub(super) fn start_sending(&mut self) {
        match self.credentials() {
            Some(creds) => self.runtime.uploads.start_sending(creds),
            None => {
                self.ui.notice = Some(Notice::error(self.lang().pick(
                    "要上传，请先在“设置”里选择省平台并填写用户名和密码。",
                    "To upload, choose the platform and enter the user name and password in Settings.",
                )));
                self.ui.show_settings = true;
            }
        }
    }

    /// At start: batches left from last time are sent again when the credentials are at hand.
    pub(super) fn resume_uploads(&mut self) {
        if self.runtime.resumed || !self.runtime.uploads.loaded {
            return;
        }
        self.runtime.resumed = true;
        let pending = self.runtime.uploads.pending();
        if pending == 0 {
            return;
        }
        match self.credentials() {
            Some(creds) => self.runtime.uploads.start_sending(creds),
            None => {
                self.ui.notice = Some(Notice::info(self.lang().pick(
                    format!(
                        "上次还有 {pending} 批数据没有上传完。请在“设置”里填写密码，然后在“上传队列”里点“继续上传”。"
                    ),
                    format!(
                        "{pending} batches were not finished last time. Enter the password in Settings, then press \"Send now\" in the upload queue."
                    ),
                )));
            }
        }
    }

    /// Queues the ready rows of the batch on screen for the chosen target, then sends.
    pub(super) fn start_queue(&mut self, ctx: &egui::Context) {
        if self.runtime.job.is_some() {
            return;
        }
        let target = match self.target() {
            Ok(t) => t,
            Err(text) => {
                self.ui.notice = Some(Notice::error(text));
                self.ui.show_settings = true;
                self.ui.upload_after_settings = true;
                return;
            }
        };
        if upload::credentials(
            &target,
            &self.settings.user,
            &self.runtime.uploads.password,
            self.runtime.remembered.as_ref(),
        )
        .is_none()
        {
            // Says what is missing and opens the settings; saving them comes back here.
            self.start_sending();
            self.ui.upload_after_settings = true;
            return;
        }
        let Some(sender) = self.runtime.uploads.commands() else {
            return;
        };
        let Some(batch) = self.take_away() else {
            return;
        };
        self.ui.notice = None;
        self.ui.upload_after_settings = false;
        // "先上报阳性结果" queues the positives alone (the flag stays until the job ends).
        let positives_only = self.ui.account.positives_asked;
        self.runtime.job = Some(Job::queue(ctx, batch, target, positives_only, sender));
    }
}
