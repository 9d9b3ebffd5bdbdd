//! What the commands print: a failure said once, a line in the user's language, the batch's
//! summary, and the JSON report. Everything printed goes through [`console`] (guarantees.md
//! sections 3 and 6): every personal number masked ([`sheetbridge::privacy::mask_text`]: a file
//! named after a person's ID number is shown masked, like the number in a message), and every
//! control character escaped, so outside text (a platform's answer, a sheet's name) can neither
//! add a line nor drive the terminal.

use super::{EXIT_NOTHING, will_write};
use sheetbridge::issue::Lang;
use sheetbridge::message::{Localized, Text};
use std::fmt::Display;

/// A command's failure: said once, by [`main`], in the user's language, and logged.
#[derive(Debug)]
pub struct Failure {
    text: Text,
    code: u8,
}

/// What a command returns: its exit code, or why it stopped.
pub type Run = Result<u8, Failure>;

impl Failure {
    /// Nothing could be done (exit code 2).
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Failure {
        Failure {
            text: Text::new(zh, en),
            code: EXIT_NOTHING,
        }
    }

    /// The same failure with another exit code.
    pub fn with_code(mut self, code: u8) -> Failure {
        self.code = code;
        self
    }

    /// Logs and prints the failure; its exit code.
    pub(super) fn report(&self, lang: Lang) -> u8 {
        sheetbridge::log::event::error(&self.text.en);
        // `say` masks the line.
        say(
            lang,
            format!("错误：{}", self.text.zh),
            format!("error: {}", self.text.en),
        );
        self.code
    }
}

impl<E: Localized> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            text: e.message(),
            code: EXIT_NOTHING,
        }
    }
}

/// Prints a line to standard error in the user's language.
pub fn say(lang: Lang, zh: impl Display, en: impl Display) {
    eprintln!("{}", console(&lang.pick(zh.to_string(), en.to_string())));
}

/// Text as the console shows it, the one way anything reaches the terminal: every personal
/// number masked, and in each of its lines every control character (tab, carriage return,
/// escape, NUL...) and bidirectional override escaped. A message's own line breaks stay; a
/// name that carries one is escaped where it is put into the message (`paths::shown`,
/// `for_line`).
pub fn console(text: &str) -> String {
    sheetbridge::privacy::mask_text(text)
        .split('\n')
        .map(sheetbridge::paths::for_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line of columns separated by tabs (`outbox list`, `pack list`, `profiles`): each column
/// through [`console`] whole, so a tab or a line break in a value cannot shift the columns.
pub fn columns(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| sheetbridge::paths::for_line(&sheetbridge::privacy::mask_text(v)))
        .collect::<Vec<_>>()
        .join("\t")
}

/// Prints a line to standard output (what a command answers) in the user's language.
pub fn answer(lang: Lang, zh: impl Display, en: impl Display) {
    println!("{}", console(&lang.pick(zh.to_string(), en.to_string())));
}

/// Prints the chosen profile, the counts and the first problems to standard error.
pub fn print_summary(batch: &sheetbridge::batch::Batch, lang: Lang, limit: usize) {
    let s = batch.summary();
    let p = &batch.profile();
    let how = if batch.source.auto_chosen {
        lang.pick("自动识别", "chosen automatically")
    } else {
        lang.pick("指定", "given")
    };
    let (name, title) = (&p.name, &p.title);
    say(
        lang,
        format!("模板：{name}（{title}，{how}）"),
        format!("profile: {name} ({title}, {how})"),
    );
    let (sheet, header) = (
        sheetbridge::paths::for_line(&batch.source.sheet),
        batch.source.header_row,
    );
    let (total, ready, duplicate, warned) = (s.total, s.ready, s.duplicate, s.with_warnings);
    let rejected = s.rejected + s.excluded;
    say(
        lang,
        format!(
            "工作表「{sheet}」，表头在第 {header} 行；共 {total} 行：可上报 {ready}，有错误 {rejected}，重复 {duplicate}，其中带提醒 {warned}"
        ),
        format!(
            "sheet {sheet}, header on row {header}; {total} rows: {ready} ready, {rejected} rejected, {duplicate} duplicate, {warned} with warnings"
        ),
    );
    let total = batch.all_issues().count();
    if total == 0 {
        return;
    }
    let shown = total.min(limit);
    if limit == 0 {
        say(
            lang,
            format!("问题共 {total} 条，详见报告。"),
            format!("{total} problems, listed in the report."),
        );
    } else {
        say(
            lang,
            format!("问题（共 {total} 条，下面是前 {shown} 条）："),
            format!("problems ({total}, the first {shown} below):"),
        );
    }
    for ri in batch.all_issues().take(limit) {
        // One problem, one line: a cell's own line break is escaped with the rest.
        eprintln!("  {}", columns(&[&batch.message(ri.index, ri.issue, lang)]));
    }
}

/// Writes the JSON report.
pub fn write_report(
    batch: &sheetbridge::batch::Batch,
    path: &std::path::Path,
    lang: Lang,
) -> Result<(), Failure> {
    report_aside(batch, path, lang)?.commit()?;
    Ok(())
}

/// [`write_report`] without putting the file in place.
pub fn report_aside(
    batch: &sheetbridge::batch::Batch,
    path: &std::path::Path,
    lang: Lang,
) -> Result<sheetbridge::write::Aside, Failure> {
    let report = sheetbridge::report::Report::new(batch, lang);
    will_write(path);
    let aside = sheetbridge::write::written_aside(path, |file| {
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(|e| sheetbridge::write::json_error(path, e))?;
        std::io::Write::flush(&mut out)
            .map_err(|e| sheetbridge::write::json_error(path, serde_json::Error::io(e)))
    })?;
    Ok(aside)
}
