//! "已在省平台网站手工上报" (daily.md): some platforms take uploads only on their website; after
//! an export the clerk says the sheet went up by hand, and its rows count as uploaded from then
//! on (the same `Workspace::mark_uploaded` as `sheetbridge mark-uploaded`).

use super::{App, Notice};
use eframe::egui;

impl App {
    /// "已在省平台网站手工上报" after an export: the rows of the sheet become 已手工上报 and are
    /// not sent again (the same `Workspace::mark_uploaded` as `sheetbridge mark-uploaded`).
    pub(super) fn start_mark(&mut self, ctx: &egui::Context) {
        if self.runtime.job.is_some() {
            return;
        }
        let target = match self.target() {
            Ok(t) => t,
            Err(text) => {
                self.ui.notice = Some(Notice::error(text));
                self.ui.show_settings = true;
                return;
            }
        };
        let Some(sender) = self.runtime.uploads.commands() else {
            self.ui.notice = Some(Notice::error(self.lang().pick(
                "没有数据文件夹，记不下手工上报。",
                "No data folder: the upload by hand cannot be noted.",
            )));
            return;
        };
        let Some(batch) = self.take_away() else {
            return;
        };
        self.ui.notice = None;
        self.runtime.job = Some(super::jobs::Job::mark(ctx, batch, target, sender));
    }

    /// The rows were noted as uploaded by hand (or why not): the file is read again, so they
    /// read 已上报过 and the upload button no longer offers them.
    pub(super) fn marked(
        &mut self,
        batch: sheetbridge::batch::Batch,
        result: Result<usize, (String, String)>,
    ) {
        self.put_back(batch);
        let lang = self.lang();
        match result {
            Ok(n) => {
                self.ui.account.after_load = Some(Notice::info(lang.pick(
                    format!("已记下：这 {n} 行已在省平台网站手工上报，不会再上传。今日对账里记为「已手工上报」。"),
                    format!("Noted: these {n} rows were uploaded by hand on the platform's website and are not sent again."),
                )));
                self.ui.account.reload = true;
                self.ui.account.stale();
            }
            Err((zh, en)) => self.ui.notice = Some(Notice::error(lang.pick(zh, en))),
        }
    }
}
