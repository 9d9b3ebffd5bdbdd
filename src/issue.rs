//! Problems found in a row: stable codes, severities and the plain messages a clerk reads.
//!
//! An [`Issue`] is data (a code, the field, a few arguments); its message is rendered only when
//! shown, in the language asked for, so the same batch can be reported in Chinese and English.

use serde::Serialize;

/// How bad a problem is. Errors keep a row out of the upload sheet; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// The language of messages shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// `en`/`english` gives English; anything else Chinese.
    pub fn parse(s: &str) -> Lang {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "en_us" | "en-us" | "english" => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// Of a message's two texts, Chinese first, the one in this language:
    /// `lang.pick("保存", "Save")`. The two stay side by side where the message is written.
    pub fn pick<T>(self, zh: T, en: T) -> T {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

macro_rules! codes {
    ($($variant:ident => $code:literal, $sev:ident, $zh:literal, $en:literal;)*) => {
        /// A stable, machine-readable problem code (listed in the README).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
            /// A failed `pattern`/`one_of`/`length` check of a user profile that names its own
            /// code and message; both live in the profile's field.
            Custom,
        }

        impl Code {
            /// Every built-in code, in the order of the README's table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable `lower_snake_case` name.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* Code::Custom => "custom" }
            }

            /// Parses a code name as written in a profile.
            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($code => Some(Code::$variant),)* _ => None }
            }

            /// The usual severity of this code.
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* Code::Custom => Severity::Error }
            }

            /// The message template. `{h}` is the column header, `{0}`, `{1}`, ... the arguments.
            pub fn template(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Code::$variant, Lang::Zh) => $zh, (Code::$variant, Lang::En) => $en,)*
                    (Code::Custom, Lang::Zh) => "「{0}」格式不对，请核对。",
                    (Code::Custom, Lang::En) => "\"{0}\" has the wrong format; please check it.",
                }
            }
        }
    };
}

codes! {
    Required => "required", Error,
        "不能为空，请补上{h}（可在原系统补录后重新导出，或在窗口里直接填写）。",
        "is empty; fill in {h}.";
    IdChecksum => "id_checksum", Error,
        "身份证号校验位错误（按前 17 位算，最后一位应为 {0}），请核对原始证件。",
        "resident ID check digit is wrong (the last character should be {0}); check the original document.";
    IdBirthdate => "id_birthdate", Error,
        "身份证号里的出生日期 {0} 不存在或晚于采样时间，请核对原始证件。",
        "the birth date {0} inside the resident ID does not exist or is after sampling; check the original document.";
    IdRegion => "id_region", Error,
        "证件号码里的地区码 {0} 查不到（不是现有或已撤销的地区），请核对原始证件。",
        "the region code {0} in the ID number is not a known current or former region; check the original document.";
    IdLength => "id_length", Error,
        "身份证号应为 18 位，现在是 {0} 位，请核对原始证件。",
        "a resident ID has 18 characters, this one has {0}; check the original document.";
    IdExcelNumber => "id_excel_number", Error,
        "证件号码被 Excel 存成了数字（{0}），后几位已经丢失，无法还原。请在原系统重新导出，导出前把这一列设为“文本”格式。",
        "the ID was stored as a number by Excel ({0}) and its last digits are lost; export it again from the source system with this column formatted as text.";
    IdFormat => "id_format", Error,
        "{0}号码「{1}」格式不对（{2}），请核对原始证件。",
        "the {0} number \"{1}\" has the wrong format ({2}); check the original document.";
    IdUpgraded => "id_upgraded", Warning,
        "15 位旧身份证号已自动升级为 18 位（{0}），请核对。",
        "the 15-digit legacy ID was upgraded to 18 digits ({0}); please check it.";
    IdType => "id_type_value", Error,
        "证件类型「{0}」无法识别，请填写 居民身份证、户口簿、护照、军官证、驾驶证、港澳通行证、台胞证、外国人永久居留身份证 或 其他。",
        "unknown ID type \"{0}\"; use 居民身份证, 户口簿, 护照, 军官证, 驾驶证, 港澳通行证, 台胞证, 外国人永久居留身份证 or 其他.";
    IdTypeChanged => "id_type_changed", Warning,
        "证件号码 {0} 是{2}号码，证件类型已从「{1}」改为「{2}」上报，请核对。",
        "the number {0} is a {2} number; the ID type was changed from {1} to {2}. Please check.";
    SexValue => "sex_value", Error,
        "性别「{0}」无法识别，请填写 男 或 女。",
        "unknown sex \"{0}\"; use 男 or 女.";
    SexMismatch => "sex_mismatch", Error,
        "性别填的是{0}，但身份证号第 17 位表示{1}，请核对。",
        "sex is {0} but the 17th digit of the resident ID says {1}; please check.";
    AgeValue => "age_value", Error,
        "年龄「{0}」不是 0 到 150 之间的整数，请改正。",
        "age \"{0}\" is not a whole number from 0 to 150.";
    AgeMismatch => "age_mismatch", Warning,
        "年龄 {0} 与身份证号算出的 {1} 岁相差超过一岁，请核对。",
        "age {0} differs by more than one year from the {1} computed from the resident ID; please check.";
    PhoneFormat => "phone_format", Error,
        "联系电话「{0}」不是有效号码：手机号应为 1 开头的 11 位数字，固定电话应带区号（0 开头，10 到 12 位），请核对。",
        "phone \"{0}\" is not valid: a mobile has 11 digits starting with 1, a landline 10-12 digits starting with 0.";
    DateFormat => "date_format", Error,
        "「{0}」不是能识别的时间，请写成 2022-01-10 08:30:00 这样的格式。",
        "\"{0}\" is not a date and time; write it like 2022-01-10 08:30:00.";
    DateOrder => "date_order", Error,
        "检测时间 {0} 早于采样时间 {1}，请核对这两个时间。",
        "testing time {0} is before sampling time {1}; check both times.";
    DateFuture => "date_future", Error,
        "时间 {0} 还没到，请核对（也请看看电脑的日期是否正确）。",
        "time {0} is in the future; check it (and the computer's clock).";
    DateOnly => "date_only", Warning,
        "只有日期没有时间，已按 {0} 上报；如有具体时间请补上。",
        "a date without a time; it is reported as {0}. Add the time if you have it.";
    ResultValue => "result_value", Error,
        "检测结果「{0}」无法识别，只能是 阴性、阳性 或 待复核。",
        "unknown result \"{0}\"; it must be 阴性, 阳性 or 待复核.";
    BarcodeFormat => "barcode_format", Error,
        "样本编号「{0}」只能由字母和数字组成，长度 6 到 32 位，请核对条码（仪器导出的条码可能损坏）。",
        "barcode \"{0}\" must be 6-32 letters and digits; check the tube barcode.";
    BarcodeConflict => "barcode_conflict", Error,
        "条码 {0} 在第 {1} 行的{2}不一样（几个采样点扫到了同一个条码），请与采样点核实后改正。",
        "barcode {0} has a different {2} on row {1} (several sites scanned the same barcode); check with the sites.";
    PoolOverflow => "pool_overflow", Error,
        "条码 {0} 已有 {1} 人（混采上限），这一行超出上限，不能上报，请核对条码。",
        "barcode {0} already holds {1} people, the pooling limit; check the barcode of this row.";
    DuplicateRow => "duplicate_row", Warning,
        "与第 {0} 行是同一人、同一条码，这一行重复，不会上报。",
        "same person and barcode as row {0}; this repeated row is left out.";
    PersonConflict => "person_conflict", Error,
        "同一个人在本批次里既有阴性又有阳性（另见第 {0} 行），请核对。",
        "the same person has both a negative and a positive result in this batch (see row {0}).";
    AlreadyUploaded => "already_uploaded", Warning,
        "这个人在条码 {0} 下的结果以前已经上报过，这次不再重复上报。",
        "this person's result under barcode {0} was uploaded before; it is not sent again.";
    NameFormat => "name_format", Error,
        "姓名「{0}」长度应为 1 到 50 个字，请核对。",
        "name \"{0}\" must have 1 to 50 characters.";
    TextFormat => "text_format", Error,
        "「{0}」格式不对，请核对。",
        "\"{0}\" has the wrong format; please check it.";
    ValueNotAllowed => "value_not_allowed", Error,
        "「{0}」不是允许的值，应为：{1}。",
        "\"{0}\" is not allowed; use one of: {1}.";
    TextTooLong => "text_too_long", Error,
        "内容有 {0} 个字符（按 Excel 的算法，表情符号等算两个），超过了上报表一格最多能放的 32,767 个字符，请在原系统删减后重新导出。",
        "has {0} characters as Excel counts them (an emoji counts two), more than the 32,767 one cell of the upload sheet can hold; shorten it in the source system.";
    TextDamaged => "text_damaged", Warning,
        "有 {0} 个字读不出来（文件里这几处已损坏，显示成 �）。请对照原始记录核对这一格；损坏的地方多时，请在原系统重新导出文件。",
        "{0} character(s) could not be read (damaged bytes in the file, shown as �); check this cell against the source record, or export the file again if much is damaged.";
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem with one row (or with one field of it).
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub code: Code,
    pub severity: Severity,
    /// Index of the template field, or `None` for a problem with the whole row.
    pub field: Option<u16>,
    /// Values shown in the message (`{0}`, `{1}`, ...).
    pub args: Box<[Box<str>]>,
    /// Which stage found it: re-checking a stage replaces only its own issues.
    pub stage: Stage,
    /// The argument that is the field's own value when the field holds a personal number
    /// (a phone, a document number), and its kind: masked whole in the message by that kind,
    /// whatever its shape ([`Issue::quoting`]).
    pub personal: Option<(u8, crate::privacy::Personal)>,
}

/// The stage of checking that produced an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// One field on its own (format, value).
    Field,
    /// Several fields of one row (sex against ID, date order).
    Row,
    /// Rows sharing a barcode.
    Barcode,
    /// Rows of one person.
    Person,
    /// Earlier uploads (the ledger).
    Ledger,
}

impl Issue {
    pub fn new(code: Code, field: Option<u16>, stage: Stage, args: &[&str]) -> Issue {
        Issue {
            code,
            severity: code.default_severity(),
            field,
            args: args.iter().map(|a| Box::<str>::from(*a)).collect(),
            stage,
            personal: None,
        }
    }

    /// The same issue, saying that argument `arg` is the field's own value and the field holds
    /// a personal number of `kind` (none: an ordinary field, whose value is only scanned).
    pub fn quoting(mut self, arg: usize, kind: Option<crate::privacy::Personal>) -> Issue {
        self.personal = kind
            .zip(u8::try_from(arg).ok())
            .map(|(kind, arg)| (arg, kind));
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Issue {
        self.severity = severity;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the message body (without the row prefix) from a template. Every message about
    /// a row passes here: the field's own value, when it is a personal number, is masked whole
    /// by its kind ([`crate::privacy::mask_value`]), and the whole message is scanned for any
    /// other personal number however written ([`crate::privacy::mask_text`]).
    pub fn render(&self, template: &str, header: &str) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('}') {
                Some(end) => {
                    let key = &after[..end];
                    if key == "h" {
                        out.push_str(header);
                    } else if let Some((i, arg)) = key
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| Some((i, self.args.get(i)?)))
                    {
                        match self.personal {
                            Some((at, kind)) if usize::from(at) == i => {
                                out.push_str(&crate::privacy::mask_value(arg, kind));
                            }
                            _ => out.push_str(arg),
                        }
                    } else {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        // An ID or phone number anywhere in a message is masked (target.md, guarantees.md §6).
        crate::privacy::mask_text(&out)
    }
}

/// Formats the full line a clerk reads: `第 57 行「证件号码」: ...`.
pub fn full_message(lang: Lang, row: u32, header: Option<&str>, body: &str) -> String {
    match (lang, header) {
        (Lang::Zh, Some(h)) => format!("第 {row} 行「{h}」: {body}"),
        (Lang::Zh, None) => format!("第 {row} 行: {body}"),
        (Lang::En, Some(h)) => format!("Row {row}, \"{h}\": {body}"),
        (Lang::En, None) => format!("Row {row}: {body}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_snake_case() {
        for code in Code::ALL {
            assert_eq!(Code::from_name(code.as_str()), Some(*code));
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
    }

    #[test]
    fn spec_codes_exist() {
        for name in [
            "required",
            "id_checksum",
            "id_birthdate",
            "id_region",
            "id_length",
            "id_excel_number",
            "id_format",
            "id_upgraded",
            "id_type_changed",
            "sex_mismatch",
            "age_mismatch",
            "phone_format",
            "date_format",
            "date_order",
            "date_future",
            "date_only",
            "result_value",
            "barcode_format",
            "barcode_conflict",
            "pool_overflow",
            "duplicate_row",
            "person_conflict",
            "already_uploaded",
            "name_format",
        ] {
            assert!(Code::from_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn renders_arguments_and_header() {
        let issue = Issue::new(Code::IdChecksum, Some(2), Stage::Field, &["X"]);
        let body = issue.render(Code::IdChecksum.template(Lang::Zh), "证件号码");
        assert_eq!(
            full_message(Lang::Zh, 57, Some("证件号码"), &body),
            "第 57 行「证件号码」: 身份证号校验位错误（按前 17 位算，最后一位应为 X），请核对原始证件。"
        );
        let req = Issue::new(Code::Required, Some(0), Stage::Field, &[]);
        assert!(
            req.render(Code::Required.template(Lang::Zh), "姓名")
                .contains("补上姓名")
        );
    }

    #[test]
    fn a_quoted_personal_value_is_masked_by_its_kind() {
        use crate::privacy::Personal;
        // A phone column's value that is no mobile: only its kind says it is a phone.
        let phone = Issue::new(Code::PhoneFormat, Some(5), Stage::Field, &["2345678901"])
            .quoting(0, Some(Personal::Phone));
        let body = phone.render(Code::PhoneFormat.template(Lang::Zh), "手机号");
        assert!(
            body.starts_with("联系电话「23****8901」不是有效号码"),
            "{body}"
        );
        // A 台胞证 number of 9 digits: the type's name stays, the number is masked.
        let permit = Issue::new(
            Code::IdFormat,
            Some(2),
            Stage::Row,
            &["台湾居民来往内地通行证", "123456789", "8 位或 10 位数字"],
        )
        .quoting(1, Some(Personal::Document));
        let body = permit.render(Code::IdFormat.template(Lang::En), "证件号码");
        assert!(body.contains("\"*******89\""), "{body}");
        assert!(body.contains("台湾居民来往内地通行证"), "{body}");
        // Unmarked, the same value is only scanned: a count stays a count.
        let count = Issue::new(Code::TextTooLong, Some(5), Stage::Field, &["40000"]);
        assert!(
            count
                .render(Code::TextTooLong.template(Lang::En), "")
                .contains("40000")
        );
    }

    #[test]
    fn chinese_messages_have_no_english_words() {
        for code in Code::ALL {
            let t = code.template(Lang::Zh).replace("Excel", "");
            assert!(
                !t.chars()
                    .any(|c| c.is_ascii_alphabetic() && c != 'X' && c != 'h'),
                "{t}"
            );
        }
    }

    #[test]
    fn lang_parse() {
        assert_eq!(Lang::parse("en"), Lang::En);
        assert_eq!(Lang::parse("zh"), Lang::Zh);
        assert_eq!(Lang::parse(""), Lang::Zh);
    }
}
