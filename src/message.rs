//! Messages in the user's language. Every error the front ends show is [`Localized`]: its type
//! writes one `match` in which each variant gives its Chinese and its English side by side
//! ([`Localized::message`]); its `Display` is the Chinese (`#[error("{}", self.text(Lang::Zh))]`),
//! and a front end asks for [`Localized::text`] in the user's [`Lang`]. Issue codes have their
//! own table (`issue::codes!`), laid out the same way. [`io_message`] is the plain Chinese
//! reason for an I/O error that many of these messages carry.

use crate::issue::Lang;

/// A message the user may read, in Chinese or English.
pub trait Localized: std::fmt::Display {
    /// Both texts: each variant's Chinese beside its English.
    fn message(&self) -> Text;

    /// The text in `lang`.
    fn text(&self, lang: Lang) -> String {
        let m = self.message();
        lang.pick(m.zh, m.en)
    }

    /// The English text (for `--lang en` and the program's log).
    fn english(&self) -> String {
        self.message().en
    }

    /// Both texts as a pair, Chinese first: what a worker thread sends the window, which picks
    /// the clerk's language when it draws.
    fn pair(&self) -> (String, String) {
        let m = self.message();
        (m.zh, m.en)
    }
}

/// A message made of its two texts, for what has no error type of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.zh)
    }
}

impl Localized for Text {
    fn message(&self) -> Text {
        self.clone()
    }
}

/// A plain Chinese reason for an I/O error.
pub fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "文件或文件夹不存在".into(),
        PermissionDenied => {
            "没有权限，或文件正被其他程序（如 Excel、WPS）打开。请关闭那个程序后重试".into()
        }
        AlreadyExists => "文件已存在".into(),
        StorageFull => "磁盘空间已满，请清理后重试".into(),
        FileTooLarge => "文件超过了这个磁盘或系统允许的大小，请换一个磁盘或文件夹".into(),
        ReadOnlyFilesystem => "磁盘或文件夹是只读的，请换一个文件夹".into(),
        _ => format!("系统错误（{e}）"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;

    /// One of every variant of every localized error, with plain ASCII values.
    fn catalogue() -> Vec<Box<dyn Localized>> {
        use crate::credentials::CredentialError;
        use crate::edits::EditsError;
        use crate::pipeline::{HeaderMismatch, LoadError};
        use crate::read::ReadError;
        use crate::read::limits::{Limit, Place};
        use crate::support::diagnose::DiagnoseError;
        use crate::support::lookup::LookupError;
        use crate::support::pack::PackError;
        use crate::unattended::fetch::FetchError;
        use crate::unattended::handle::WorkflowError;
        use crate::unattended::journal::JournalError;
        use crate::unattended::schedule::ScheduleError;
        use crate::unattended::source::SourceError;
        use crate::unattended::watch::WatchError;
        use crate::upload::outbox::{OutboxError, State};
        use crate::upload::target::TargetError;
        use crate::write::WriteError;
        let p = || PathBuf::from("in/a.xlsx");
        let s = |t: &str| t.to_owned();
        let read = || ReadError::Corrupt {
            path: p(),
            detail: s("bad zip"),
        };
        let write = || WriteError::Source(read());
        let outbox = || OutboxError::Write(write());
        let journal = || JournalError {
            path: p(),
            detail: s("locked"),
        };
        let profile = || crate::profile::ProfileError::NotFound {
            kind: crate::named::FileKind::Profile,
            name: s("x"),
            available: s("cdc-nat"),
        };
        let place = || Place {
            part: s("xl/sheet1.xml"),
            row: Some(7),
            line: 3,
        };
        let mismatch = HeaderMismatch {
            path: p(),
            sheet: s("Sheet1"),
            profile: s("cdc"),
            missing: vec![s("name"), s("id")],
            headers: vec![s("a"), s("b")],
            headers_all: vec![],
            samples: vec![],
            head: vec![],
            header_at: 0,
        };
        let mut none = mismatch.clone();
        none.headers.clear();
        vec![
            Box::new(ReadError::NotFound { path: p() }),
            Box::new(ReadError::Io {
                path: p(),
                reason: s("denied"),
            }),
            Box::new(ReadError::Password { path: p() }),
            Box::new(ReadError::Wps { path: p() }),
            Box::new(ReadError::NotSpreadsheet { path: p() }),
            Box::new(read()),
            Box::new(ReadError::Empty { path: p() }),
            Box::new(ReadError::Limit {
                path: p(),
                limit: Limit::Cell(place()),
            }),
            Box::new(ReadError::Limit {
                path: p(),
                limit: Limit::Depth(place()),
            }),
            Box::new(ReadError::Limit {
                path: p(),
                limit: Limit::Size {
                    part: s("xl/sheet1.xml"),
                    limit: 100,
                },
            }),
            Box::new(ReadError::Limit {
                path: p(),
                limit: Limit::Merges { part: s("p") },
            }),
            Box::new(ReadError::Limit {
                path: p(),
                limit: Limit::Rows { row: 9 },
            }),
            Box::new(ReadError::Limit {
                path: p(),
                limit: Limit::Grid {
                    sheet: s("S"),
                    rows: 1,
                    cols: 2,
                },
            }),
            Box::new(ReadError::TooWide {
                path: p(),
                column: 900,
                max: 800,
            }),
            Box::new(ReadError::SheetNotFound {
                path: p(),
                sheet: s("x"),
                available: s("a, b"),
            }),
            Box::new(LoadError::Read(read())),
            Box::new(LoadError::Profile(profile())),
            Box::new(LoadError::Profile(crate::profile::ProfileError::Invalid {
                kind: crate::named::FileKind::Profile,
                path: s("p.toml"),
                line: Some(3),
                key: Some(s("a")),
                detail: s("bad"),
            })),
            Box::new(LoadError::Profile(crate::profile::ProfileError::Io {
                kind: crate::named::FileKind::Profile,
                path: s("p.toml"),
                detail: s("gone"),
            })),
            Box::new(LoadError::Empty { path: p() }),
            Box::new(LoadError::NoMatch(Box::new(mismatch))),
            Box::new(LoadError::NoMatch(Box::new(none))),
            Box::new(LoadError::Cancelled),
            Box::new(WriteError::Locked { path: p() }),
            Box::new(WriteError::Io {
                path: p(),
                reason: s("full"),
            }),
            Box::new(WriteError::Extension { path: p() }),
            Box::new(WriteError::Xlsx {
                path: p(),
                detail: s("x"),
            }),
            Box::new(write()),
            Box::new(WriteError::IsSource { path: p() }),
            Box::new(EditsError::Io {
                path: p(),
                detail: s("x"),
            }),
            Box::new(EditsError::Corrupt {
                path: p(),
                detail: s("x"),
            }),
            Box::new(OutboxError::NoDataDir),
            Box::new(OutboxError::Db {
                path: p(),
                detail: s("x"),
            }),
            Box::new(outbox()),
            Box::new(OutboxError::Io {
                path: p(),
                detail: s("x"),
            }),
            Box::new(OutboxError::Newer {
                path: p(),
                version: 9,
            }),
            Box::new(OutboxError::NotFound { id: s("b1") }),
            Box::new(OutboxError::WrongState {
                id: s("b1"),
                state: State::Queued,
            }),
            Box::new(TargetError::Invalid {
                kind: crate::named::FileKind::Target,
                path: s("t.toml"),
                line: Some(4),
                key: Some(s("kind")),
                detail: s("x"),
            }),
            Box::new(TargetError::Invalid {
                kind: crate::named::FileKind::Target,
                path: s("t.toml"),
                line: Some(4),
                key: None,
                detail: s("x"),
            }),
            Box::new(TargetError::Io {
                kind: crate::named::FileKind::Target,
                path: s("t.toml"),
                detail: s("x"),
            }),
            Box::new(TargetError::NotFound {
                kind: crate::named::FileKind::Target,
                name: s("t"),
                available: s("a"),
            }),
            Box::new(crate::upload::client::ClientError {
                target: s("t"),
                detail: s("x"),
            }),
            Box::new(CredentialError::NoConfigDir),
            Box::new(CredentialError::File {
                path: p(),
                detail: s("x"),
            }),
            Box::new(DiagnoseError::Write {
                path: p(),
                detail: s("x"),
            }),
            Box::new(PackError::Read {
                path: p(),
                detail: s("x"),
            }),
            Box::new(PackError::Unsigned { sig: p() }),
            Box::new(PackError::Untrusted),
            Box::new(PackError::BadSignature),
            Box::new(PackError::BadPath {
                entry: s("e"),
                detail: s("x"),
            }),
            Box::new(PackError::BadManifest { detail: s("x") }),
            Box::new(PackError::Older {
                name: s("n"),
                version: s("1"),
                installed: s("2"),
            }),
            Box::new(PackError::BadFile { detail: s("x") }),
            Box::new(PackError::Install { detail: s("x") }),
            Box::new(PackError::NotInstalled { name: s("n") }),
            Box::new(PackError::NoPrevious { name: s("n") }),
            Box::new(LookupError::Db {
                path: p(),
                detail: s("x"),
            }),
            Box::new(journal()),
            Box::new(SourceError::Invalid {
                kind: crate::named::FileKind::Source,
                path: s("s.toml"),
                line: None,
                key: Some(s("k")),
                detail: s("x"),
            }),
            Box::new(SourceError::Invalid {
                kind: crate::named::FileKind::Source,
                path: s("s.toml"),
                line: None,
                key: None,
                detail: s("x"),
            }),
            Box::new(SourceError::Io {
                kind: crate::named::FileKind::Source,
                path: s("s.toml"),
                detail: s("x"),
            }),
            Box::new(SourceError::NotFound {
                kind: crate::named::FileKind::Source,
                name: s("n"),
                available: s("d"),
            }),
            Box::new(FetchError::Client {
                source_name: s("c"),
                detail: s("x"),
            }),
            Box::new(FetchError::Login {
                source_name: s("c"),
                reference: s("r"),
                detail: s("x"),
            }),
            Box::new(FetchError::Unreachable {
                source_name: s("c"),
                url: s("http://x"),
                detail: s("x"),
            }),
            Box::new(FetchError::Status {
                source_name: s("c"),
                status: 500,
                detail: s("x"),
            }),
            Box::new(FetchError::NotSpreadsheet {
                source_name: s("c"),
                title: s("Login"),
            }),
            Box::new(FetchError::Save {
                path: p(),
                detail: s("x"),
            }),
            Box::new(FetchError::NoFolder { path: p() }),
            Box::new(FetchError::Journal(journal())),
            Box::new(ScheduleError::Every(7)),
            Box::new(ScheduleError::Program {
                program: s("crontab"),
                detail: s("x"),
                hint: "请安装 cron。",
            }),
            Box::new(ScheduleError::Io {
                path: p(),
                detail: s("x"),
            }),
            Box::new(WatchError::NoFolder { path: p() }),
            Box::new(WatchError::NotOwnFolder { path: p() }),
            Box::new(WatchError::Io {
                path: p(),
                detail: s("x"),
            }),
            Box::new(WatchError::Journal(journal())),
            Box::new(WatchError::Workflow(WorkflowError::Outbox(outbox()))),
            Box::new(WorkflowError::Outbox(outbox())),
            Box::new(WorkflowError::Write(write())),
            Box::new(WorkflowError::Profile(profile())),
        ]
    }

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| {
            matches!(c, '\u{3000}'..='\u{303F}' | '\u{4E00}'..='\u{9FFF}' | '\u{FF00}'..='\u{FFEF}')
        })
    }

    #[test]
    fn every_error_says_both_languages() {
        for m in catalogue() {
            let (zh, en) = (m.text(Lang::Zh), m.text(Lang::En));
            assert_eq!(m.to_string(), zh, "Display is the Chinese");
            assert_eq!(m.english(), en);
            assert_ne!(zh, en);
            assert!(has_cjk(&zh), "{zh}");
            // A profile's details are Chinese from its checks: the English quotes them.
            if !en.starts_with("profile error: ") {
                assert!(!has_cjk(&en), "English with Chinese in it: {en}");
            }
        }
    }

    #[test]
    fn nested_errors_speak_the_same_language() {
        let read = crate::read::ReadError::NotFound {
            path: "a.xlsx".into(),
        };
        let inner = read.message();
        let outer =
            crate::upload::outbox::OutboxError::Write(crate::write::WriteError::Source(read));
        assert!(
            outer.text(Lang::Zh).ends_with(&inner.zh),
            "{}",
            outer.text(Lang::Zh)
        );
        assert!(
            outer.text(Lang::En).ends_with(&inner.en),
            "{}",
            outer.text(Lang::En)
        );
        let source = std::error::Error::source(&outer).map(|e| e.to_string());
        assert!(source.is_some_and(|s| s.ends_with(&inner.zh)));
    }

    #[test]
    fn io_reasons_are_plain_chinese() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(io_message(&e).contains("Excel"));
        let other = std::io::Error::other("boom");
        assert_eq!(io_message(&other), "系统错误（boom）");
    }

    #[test]
    fn renders_either_language() {
        let t = Text::new("读不了文件", "cannot read the file");
        assert_eq!(t.text(Lang::Zh), "读不了文件");
        assert_eq!(t.text(Lang::En), "cannot read the file");
        let e = crate::write::WriteError::IsSource {
            path: "a.xlsx".into(),
        };
        assert_eq!(e.text(Lang::Zh), e.to_string());
        assert_eq!(e.text(Lang::En), e.english());
    }
}
