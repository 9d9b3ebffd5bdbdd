//! Messages in the user's language. Every error the front ends show is [`Localized`]: its Chinese
//! is its `Display` (the `#[error]` text), its English is [`Localized::english`]; a front end
//! asks for [`Localized::text`] in the user's [`Lang`] and never matches on the language itself.
//! Issue codes have their own table (`issue::codes!`), with both languages side by side.

use crate::issue::Lang;

/// A message the user may read, in Chinese or English.
pub trait Localized: std::fmt::Display {
    /// The English text (the Chinese is `Display`).
    fn english(&self) -> String;

    /// The text in `lang`.
    fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => self.to_string(),
            Lang::En => self.english(),
        }
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
    fn english(&self) -> String {
        self.en.clone()
    }
}

/// The errors that carry their English in an `english()` method of their own.
macro_rules! localized {
    ($($t:ty),* $(,)?) => {
        $(impl Localized for $t {
            fn english(&self) -> String {
                <$t>::english(self)
            }
        })*
    };
}

localized!(
    crate::read::ReadError,
    crate::pipeline::LoadError,
    crate::write::WriteError,
    crate::edits::EditsError,
    crate::upload::outbox::OutboxError,
    crate::upload::target::TargetError,
    crate::credentials::CredentialError,
    crate::support::diagnose::DiagnoseError,
    crate::support::pack::PackError,
    crate::support::lookup::LookupError,
    crate::unattended::journal::JournalError,
    crate::unattended::source::SourceError,
    crate::unattended::fetch::FetchError,
    crate::unattended::schedule::ScheduleError,
    crate::unattended::watch::WatchError,
    crate::unattended::handle::WorkflowError,
);

#[cfg(test)]
mod tests {
    use super::*;

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
