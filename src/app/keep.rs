//! The clerk's work on the file on screen, kept: every fix and every "不上报此行" is saved as it
//! is made (through [`sheetbridge::edits`]), restored when the same file is opened again, and
//! tracked so that closing with changes neither exported nor queued asks first, and an export
//! made before the last change is shown as out of date.

use eframe::egui;
use sheetbridge::batch::Batch;
use sheetbridge::edits::{FileEdits, Restored};
use sheetbridge::issue::Lang;
use sheetbridge::message::Localized;

/// A text in both languages.
pub struct Text(&'static str, &'static str);

impl Text {
    pub fn text(&self, lang: Lang) -> &'static str {
        lang.pick(self.0, self.1)
    }
}

/// Shown beside an export made before the last change.
pub const STALE: Text = Text(
    "导出后又有修改：这个文件已过时，请重新导出。",
    "Changed after the export: that file is out of date; export again.",
);

/// Asked before closing a file (or the window) with changes neither exported nor uploaded.
pub const CLOSE_ASK: Text = Text(
    "这个文件的修改还没有导出或上传。修改已自动保存，下次打开同一文件会恢复。仍要关闭吗？",
    "The changes to this file were neither exported nor uploaded. They are saved and come back when the same file is opened again. Close anyway?",
);

/// The review screen's record of the clerk's decisions.
#[derive(Debug, Default)]
pub struct Keep {
    /// Where the decisions are saved; `None` when the file could not be hashed (nothing is
    /// saved then, and the clerk is told).
    edits: Option<FileEdits>,
    /// A change was made since the last export or queueing.
    pub changed: bool,
    /// An export was made and a change came after it.
    pub export_stale: bool,
    exported: bool,
    /// The last failure to save a decision (Chinese, English).
    pub error: Option<(String, String)>,
    /// Asking whether to close with unsent changes, and what.
    asking: Option<Closing>,
    /// The clerk said to close anyway.
    close_ok: bool,
    /// Rows uploaded before, counted for the review's edit generation.
    before: Option<(u64, usize)>,
}

/// What is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    File,
    Window,
}

impl Keep {
    pub fn new(edits: Option<FileEdits>) -> Keep {
        Keep {
            edits,
            ..Keep::default()
        }
    }

    fn changed(&mut self) {
        self.changed = true;
        self.export_stale = self.exported;
    }

    fn saved(&mut self, r: Result<(), sheetbridge::edits::EditsError>) {
        self.error = r.err().map(|e| e.pair());
    }

    /// Fixes a cell and saves the fix.
    pub fn edit(&mut self, batch: &mut Batch, index: usize, field: usize, text: &str) {
        match &mut self.edits {
            Some(e) => {
                let r = e.edit(batch, index, field, text);
                self.saved(r);
            }
            None => batch.edit(index, field, text),
        }
        self.changed();
    }

    /// Leaves a row out (or takes it back) and saves the decision.
    pub fn set_excluded(&mut self, batch: &mut Batch, index: usize, excluded: bool) {
        match &mut self.edits {
            Some(e) => {
                let r = e.set_excluded(batch, index, excluded);
                self.saved(r);
            }
            None => batch.set_excluded(index, excluded),
        }
        self.changed();
    }

    /// Rows of the batch already confirmed on the platform (counted once per edit generation:
    /// a full pass is too slow to repeat every frame).
    pub fn uploaded_before(&mut self, batch: &Batch, generation: u64) -> usize {
        match self.before {
            Some((g, n)) if g == generation => n,
            _ => {
                let n = sheetbridge::workspace::already_uploaded(batch);
                self.before = Some((generation, n));
                n
            }
        }
    }

    /// The upload sheet was written from the batch as it is now.
    pub fn exported(&mut self) {
        self.exported = true;
        self.export_stale = false;
        self.changed = false;
    }

    /// The ready rows were queued for upload as they are now.
    pub fn queued(&mut self) {
        self.changed = false;
    }

    /// Changes neither exported nor queued: closing the file should ask first.
    pub fn unsent_changes(&self) -> bool {
        self.changed
    }
}

impl super::App {
    fn unsent_review(&mut self) -> Option<&mut Keep> {
        self.review()
            .map(|r| &mut r.keep)
            .filter(|k| k.unsent_changes() && !k.close_ok)
    }

    /// "关闭此文件": `true` when it may close now; else the clerk is asked first (changes
    /// neither exported nor queued).
    pub(super) fn may_close_file(&mut self) -> bool {
        match self.unsent_review() {
            Some(keep) => {
                keep.asking = Some(Closing::File);
                false
            }
            None => true,
        }
    }

    /// Closing the window with such changes: cancelled, and the clerk asked. `true` when it
    /// was held.
    pub(super) fn hold_close_for_changes(&mut self, ctx: &egui::Context) -> bool {
        if !ctx.input(|i| i.viewport().close_requested()) {
            return false;
        }
        match self.unsent_review() {
            Some(keep) => {
                keep.asking = Some(Closing::Window);
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                true
            }
            None => false,
        }
    }

    /// The question, when one is open.
    pub(super) fn close_changes_dialog(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let Some(asking) = self.review().and_then(|r| r.keep.asking) else {
            return;
        };
        let mut answer = None;
        egui::Modal::new(egui::Id::unique("confirm_close_changes")).show(ctx, |ui| {
            ui.heading(lang.pick("修改还没有导出或上传", "Changes not exported or uploaded"));
            ui.label(CLOSE_ASK.text(lang));
            ui.horizontal(|ui| {
                if ui.button(lang.pick("仍要关闭", "Close anyway")).clicked() {
                    answer = Some(true);
                }
                if ui.button(lang.pick("不关闭", "Keep it open")).clicked() {
                    answer = Some(false);
                }
            });
        });
        let Some(close) = answer else {
            return;
        };
        if let Some(r) = self.review() {
            r.keep.asking = None;
            r.keep.close_ok = close;
        }
        if close {
            match asking {
                Closing::File => self.apply(ctx, super::Action::Close),
                Closing::Window => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            }
        }
    }
}

/// The notice after a load: what was restored, and what could not be read.
pub fn loaded_notice(
    restored: Restored,
    warnings: &[(String, String)],
    lang: Lang,
) -> Option<super::Notice> {
    let mut lines: Vec<String> = restored.message(lang).into_iter().collect();
    lines.extend(
        warnings
            .iter()
            .map(|(zh, en)| lang.pick(zh.clone(), en.clone())),
    );
    (!lines.is_empty()).then(|| {
        let text = lines.join("\n");
        if warnings.is_empty() {
            super::Notice::info(text)
        } else {
            super::Notice::error(text)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_after_an_export_make_it_stale() {
        let mut k = Keep::default();
        assert!(!k.unsent_changes());
        k.changed();
        assert!(k.unsent_changes() && !k.export_stale);
        k.exported();
        assert!(!k.unsent_changes() && !k.export_stale);
        k.changed();
        assert!(k.unsent_changes() && k.export_stale);
        k.queued();
        assert!(!k.unsent_changes() && k.export_stale);
    }
}
