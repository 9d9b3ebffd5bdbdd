//! guarantees.md §3. Outside text is data, never code.
//!
//! The scheduled task: each format (crontab line, systemd unit, Task Scheduler XML) is built
//! from every single character U+0000..=U+00FF and from random strings in every field, and read
//! back with that format's own rules (cron's `%`, POSIX sh words, systemd's specifiers, quotes,
//! C escapes and `$`, XML and CommandLineToArgvW): the arguments come back exactly and nothing
//! else was added, or the field is refused by name. Then `schedule install` itself with the
//! stand-in `crontab` and `systemctl`. Last, CSV and xlsx cells starting with every character.

use crate::support::{self, HEADER, Run, V, person, t, tmp, write_xlsx};
use sheetbridge::unattended::schedule::{self, Job, ScheduleError};
use std::path::{Path, PathBuf};

/// The fields of a job, by their name in the refusal message.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Program,
    Folder,
    Target,
    Source,
    Variable,
    Log,
}

const SLOTS: [Slot; 6] = [
    Slot::Program,
    Slot::Folder,
    Slot::Target,
    Slot::Source,
    Slot::Variable,
    Slot::Log,
];

impl Slot {
    /// What the refusal must say.
    fn named(self) -> &'static str {
        match self {
            Slot::Program => "本程序的路径",
            Slot::Folder => "要监视的文件夹",
            Slot::Target => "上报目标的名称",
            Slot::Source => "数据来源的名称",
            Slot::Variable => "环境变量 SHEETBRIDGE_DATA_DIR",
            Slot::Log => "定时任务的日志文件",
        }
    }
}

/// A job (and the cron log) with `text` in `slot` and plain values elsewhere.
fn job_with(slot: Slot, text: &str) -> (Job, PathBuf) {
    let pick = |s: Slot, plain: &str| {
        if slot == s {
            text.to_owned()
        } else {
            plain.to_owned()
        }
    };
    let job = Job {
        exe: PathBuf::from(format!("/opt/{}/sheetbridge", pick(Slot::Program, "sb"))),
        // A folder that looks like an option is given as it is (relative), the others absolute.
        folder: if slot == Slot::Folder && text.starts_with('-') {
            PathBuf::from(text)
        } else {
            PathBuf::from(format!("/home/护士/{}", pick(Slot::Folder, "待上报")))
        },
        target: pick(Slot::Target, "platform"),
        source: Some(pick(Slot::Source, "city")),
        every: 15,
        env: vec![
            ("SHEETBRIDGE_LANG".into(), "zh".into()),
            (
                "SHEETBRIDGE_DATA_DIR".into(),
                pick(Slot::Variable, "/home/护士/.local/share/sheetbridge"),
            ),
        ],
    };
    let log = PathBuf::from(format!(
        "/var/tmp/{}/watch-cron.log",
        pick(Slot::Log, "log")
    ));
    (job, log)
}

/// The program and its arguments, as the run must receive them: every value a word the
/// argument parser cannot read as an option whatever it starts with (`-ok`, `--profile=x`),
/// glued to its option (`--target=VALUE`) or after `--` (the folder). `Job::args` must say
/// exactly this (the formats are read back against it; the program's own clap parser reads it
/// back in src/cli/schedule.rs's tests).
fn argv(job: &Job) -> Vec<String> {
    let mut v = vec![
        job.exe.to_str().unwrap().to_owned(),
        "watch".to_owned(),
        format!("--target={}", job.target),
        "--once".to_owned(),
    ];
    if let Some(s) = &job.source {
        v.push(format!("--source={s}"));
    }
    v.push("--".to_owned());
    v.push(job.folder.to_str().unwrap().to_owned());
    let mut args = vec![job.exe.to_str().unwrap().to_owned()];
    args.extend(job.args());
    assert_eq!(args, v, "a value could be read as an option");
    v
}

/// Every character U+0000..=U+00FF alone, after a letter, and after a backslash (which cron
/// and the Windows rules treat specially), then random strings.
fn texts(seed: u64) -> Vec<String> {
    let mut v = Vec::new();
    for b in 0u32..=0xff {
        let c = char::from_u32(b).unwrap();
        v.push(c.to_string());
        v.push(format!("a{c}z"));
        v.push(format!("\\{c}"));
        v.push(format!("{c}\\"));
        // Values that look like options.
        v.push(format!("-{c}"));
        v.push(format!("--{c}=y"));
    }
    for option in [
        "-ok",
        "--profile=x",
        "--x=y",
        "--once",
        "--",
        "-",
        "--target",
        "-h",
    ] {
        v.push(option.to_owned());
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    const HOT: &[char] = &[
        '\'', '"', '\\', '%', '$', '`', ' ', '\t', ';', '&', '|', '<', '>', '(', ')', '#', '*',
        '?', '[', '~', '=', '{', '}', '!', '\n', '\r', '\0', '核', '酸', '\u{202e}', '\u{fffe}',
        '\u{85}', '\x7f', '\x1b',
    ];
    for _ in 0..1500 {
        let n = rng.usize(0..12);
        let dashes = "-".repeat(rng.usize(0..3));
        let s: String = (0..n)
            .map(|_| match rng.u8(0..4) {
                0 | 1 => HOT[rng.usize(0..HOT.len())],
                2 => char::from(rng.u8(..)),
                _ => rng.char(..),
            })
            .collect();
        v.push(dashes + &s);
    }
    v
}

/// A refusal must name the field it refuses.
#[track_caller]
fn named(e: &ScheduleError, slot: Slot, text: &str) {
    let m = e.to_string();
    assert!(
        m.contains(slot.named()) && !m.contains('\n'),
        "{slot:?} {text:?}: {m}"
    );
}

// ---- cron: cron's own `%` handling, then POSIX sh words -----------------------------------

/// What cron hands to /bin/sh (cronie's do_command): `\%` is `%`, the first other `%` ends
/// the command (the rest is its standard input).
fn cron_unpercent(command: &str) -> (String, String) {
    let mut out = String::new();
    let mut escaped = false;
    for (i, ch) in command.char_indices() {
        if escaped {
            if ch == '%' {
                out.pop();
            }
            out.push(ch);
            escaped = false;
            continue;
        }
        if ch == '\\' {
            escaped = true;
            out.push(ch);
            continue;
        }
        if ch == '%' {
            return (out, command[i + 1..].to_owned());
        }
        out.push(ch);
    }
    (out, String::new())
}

#[derive(Debug, PartialEq)]
enum Tok {
    /// A word; `assign` when it starts with an unquoted `NAME=`.
    Word {
        text: String,
        assign: bool,
    },
    Op(String),
    Comment(String),
}

/// POSIX sh tokens of one line. Anything that would expand or run (an unquoted `$`, backquote,
/// glob, brace, `~`, `!`) is an error: the line must hold literal words only.
fn sh_tokens(line: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = line.chars().peekable();
    let mut word: Option<(String, String)> = None; // (text, unquoted prefix before any quote)
    let mut quoted = false;
    let end = |word: &mut Option<(String, String)>, quoted: &mut bool, toks: &mut Vec<Tok>| {
        if let Some((text, prefix)) = word.take() {
            let assign = prefix.find('=').is_some_and(|i| {
                let name = &prefix[..i];
                !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }) && toks
                .iter()
                .all(|t| matches!(t, Tok::Word { assign: true, .. }));
            toks.push(Tok::Word { text, assign });
        }
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => end(&mut word, &mut quoted, &mut toks),
            '\n' | '\r' => return Err(format!("a line break: {line:?}")),
            '#' if word.is_none() => {
                let rest: String = std::iter::once('#').chain(chars.by_ref()).collect();
                toks.push(Tok::Comment(rest));
            }
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                end(&mut word, &mut quoted, &mut toks);
                let mut op = c.to_string();
                while let Some(&n) = chars.peek() {
                    if matches!(n, ';' | '&' | '|' | '<' | '>') {
                        op.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                toks.push(Tok::Op(op));
            }
            '\'' => {
                let w = word.get_or_insert_with(Default::default);
                quoted = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.0.push(c),
                        None => return Err(format!("an unclosed quote: {line:?}")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(Default::default);
                quoted = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('$' | '`' | '"' | '\\')) => w.0.push(n),
                            Some(n) => {
                                w.0.push('\\');
                                w.0.push(n);
                            }
                            None => return Err("an unclosed quote".into()),
                        },
                        Some(c @ ('$' | '`')) => return Err(format!("{c} in quotes: {line:?}")),
                        Some(c) => w.0.push(c),
                        None => return Err(format!("an unclosed quote: {line:?}")),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(Default::default);
                quoted = true;
                match chars.next() {
                    Some(n) => w.0.push(n),
                    None => return Err("a trailing backslash".into()),
                }
            }
            '$' | '`' | '*' | '?' | '[' | '{' | '}' | '!' => {
                return Err(format!("an unquoted {c:?} would expand: {line:?}"));
            }
            '~' if word.is_none() => return Err(format!("an unquoted ~: {line:?}")),
            c => {
                let w = word.get_or_insert_with(Default::default);
                w.0.push(c);
                if !quoted {
                    w.1.push(c);
                }
            }
        }
    }
    end(&mut word, &mut quoted, &mut toks);
    Ok(toks)
}

/// Reads a crontab line back: five time fields, then exactly the variables, the program and
/// its arguments, the log redirection and our mark.
fn cron_read_back(line: &str, job: &Job, log: &Path) -> Result<(), String> {
    if line.contains(['\n', '\r', '\0']) {
        return Err(format!("a line break in the line: {line:?}"));
    }
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start_matches([' ', '\t']);
        let end = rest
            .find([' ', '\t'])
            .ok_or("fewer than five time fields")?;
        rest = &rest[end..];
    }
    let (command, stdin) = cron_unpercent(rest);
    if !stdin.is_empty() {
        return Err(format!("cron cut the command at a %: {line:?}"));
    }
    let toks = sh_tokens(&command)?;
    let mut want: Vec<Tok> = job
        .env
        .iter()
        .map(|(k, v)| Tok::Word {
            text: format!("{k}={v}"),
            assign: true,
        })
        .collect();
    want.extend(argv(job).into_iter().map(|text| Tok::Word {
        text,
        assign: false,
    }));
    want.push(Tok::Op(">>".into()));
    want.extend([log.to_str().unwrap(), "2"].iter().map(|w| Tok::Word {
        text: (*w).to_owned(),
        assign: false,
    }));
    want.push(Tok::Op(">&".into()));
    want.push(Tok::Word {
        text: "1".into(),
        assign: false,
    });
    want.push(Tok::Comment("# sheetbridge-watch".into()));
    if toks == want {
        Ok(())
    } else {
        Err(format!(
            "{line:?}\n read back as {toks:?}\n wanted {want:?}"
        ))
    }
}

#[test]
fn a_crontab_line_carries_every_character_of_every_field_or_refuses_it() {
    for slot in SLOTS {
        for text in texts(1) {
            let (job, log) = job_with(slot, &text);
            match schedule::cron_line(&job, 7, &log) {
                Ok(line) => {
                    if let Err(e) = cron_read_back(&line, &job, &log) {
                        panic!("{slot:?} {text:?}: {e}");
                    }
                }
                Err(e) => {
                    assert!(
                        text.contains(['\n', '\r', '\0']),
                        "{slot:?} {text:?} refused: {e}"
                    );
                    named(&e, slot, &text);
                }
            }
        }
    }
}

// ---- systemd: the unit's lines, specifiers, quotes and C escapes, then `$` -----------------

/// systemd's C unescape of one escape after `\` (cunescape_one), for the escapes it knows.
fn c_unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, String> {
    let c = chars.next().ok_or("a trailing backslash")?;
    Ok(match c {
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        's' => ' ',
        '\\' | '"' | '\'' => c,
        'x' => {
            let hex: String = chars.by_ref().take(2).collect();
            let v = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?;
            if v == 0 {
                return Err("\\x00".into());
            }
            char::from_u32(v).ok_or("bad \\x")?
        }
        other => return Err(format!("an escape systemd does not take: \\{other}")),
    })
}

/// The words of a value as systemd reads them (specifiers first, then extract_first_word with
/// quotes and C escapes), each with whether it was quoted.
fn systemd_words(value: &str) -> Result<Vec<(String, bool)>, String> {
    let mut spec = String::new();
    let mut it = value.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            match it.next() {
                Some('%') => spec.push('%'),
                other => return Err(format!("a specifier %{other:?} in {value:?}")),
            }
        } else {
            spec.push(c);
        }
    }
    let mut words = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| matches!(c, ' ' | '\t')) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let (mut w, mut quoted) = (String::new(), false);
        while let Some(&c) = chars.peek() {
            match c {
                ' ' | '\t' => break,
                '"' | '\'' => {
                    chars.next();
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some(q) if q == c => break,
                            Some('\\') => w.push(c_unescape(&mut chars)?),
                            Some(x) => w.push(x),
                            None => return Err(format!("an unclosed quote in {value:?}")),
                        }
                    }
                }
                '\\' => {
                    chars.next();
                    quoted = true;
                    w.push(c_unescape(&mut chars)?);
                }
                c => {
                    chars.next();
                    w.push(c);
                }
            }
        }
        words.push((w, quoted));
    }
}

/// `$$` is `$`; any other `$` would be a variable.
fn systemd_unvariable(word: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut it = word.chars();
    while let Some(c) = it.next() {
        if c == '$' {
            match it.next() {
                Some('$') => out.push('$'),
                other => return Err(format!("a variable ${other:?} in {word:?}")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Reads a service unit back: exactly the keys we write, each variable as it was, and
/// `ExecStart=` giving the program and its arguments.
fn systemd_read_back(unit: &str, job: &Job) -> Result<(), String> {
    let mut keys = Vec::new();
    let (mut env, mut exec) = (Vec::new(), None);
    // systemd ends a line at \n, \r or NUL, and joins a line ending in a backslash.
    for line in unit.split(['\n', '\r', '\0']) {
        if line.ends_with('\\') {
            return Err(format!("a continued line: {line:?}"));
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') {
            keys.push(line.to_owned());
            continue;
        }
        let (k, v) = line.split_once('=').ok_or(format!("not a key: {line:?}"))?;
        keys.push(k.trim().to_owned());
        match k.trim() {
            "Environment" => {
                for (w, _) in systemd_words(v.trim())? {
                    env.push(w);
                }
            }
            "ExecStart" => exec = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let mut want_keys = vec!["[Unit]", "Description", "[Service]", "Type"];
    want_keys.extend(job.env.iter().map(|_| "Environment"));
    want_keys.push("ExecStart");
    if keys != want_keys {
        return Err(format!("keys {keys:?}, wanted {want_keys:?}:\n{unit}"));
    }
    let want_env: Vec<String> = job.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if env != want_env {
        return Err(format!("variables {env:?}, wanted {want_env:?}"));
    }
    let exec = exec.ok_or("no ExecStart")?;
    if !exec.starts_with('"') {
        return Err(format!("a prefix or an unquoted program: {exec:?}"));
    }
    let mut words = Vec::new();
    for (w, quoted) in systemd_words(&exec)? {
        if w == ";" && !quoted {
            return Err("a command separator".into());
        }
        words.push(systemd_unvariable(&w)?);
    }
    if words
        .first()
        .is_some_and(|w| w.starts_with(['-', '@', ':', '+', '!']))
    {
        return Err(format!("a prefix on the program: {words:?}"));
    }
    if words != argv(job) {
        return Err(format!("{exec:?} read back as {words:?}"));
    }
    Ok(())
}

#[test]
fn a_systemd_unit_carries_every_character_of_every_field_or_refuses_it() {
    for slot in SLOTS {
        if matches!(slot, Slot::Log) {
            continue; // the unit logs to the journal
        }
        for text in texts(2) {
            let (job, _) = job_with(slot, &text);
            match schedule::systemd_service(&job) {
                Ok(unit) => {
                    if let Err(e) = systemd_read_back(&unit, &job) {
                        panic!("{slot:?} {text:?}: {e}");
                    }
                }
                Err(e) => {
                    assert!(
                        text.contains(['\n', '\0']),
                        "{slot:?} {text:?} refused: {e}"
                    );
                    named(&e, slot, &text);
                }
            }
        }
    }
}

// ---- Task Scheduler: the XML, then CommandLineToArgvW --------------------------------------

/// The arguments as a Windows program's C runtime splits them (CommandLineToArgvW, for the
/// words after the program's name).
fn command_line_to_argv(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let (mut i, mut args) = (0, Vec::new());
    loop {
        while i < chars.len() && matches!(chars[i], ' ' | '\t') {
            i += 1;
        }
        if i >= chars.len() {
            return args;
        }
        let (mut w, mut in_quotes) = (String::new(), false);
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                let n = chars[i..].iter().take_while(|&&c| c == '\\').count();
                i += n;
                if chars.get(i) == Some(&'"') {
                    w.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        w.push('"');
                        i += 1;
                    }
                } else {
                    w.extend(std::iter::repeat_n('\\', n));
                }
                continue;
            }
            if c == '"' {
                if in_quotes && chars.get(i + 1) == Some(&'"') {
                    w.push('"');
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
                i += 1;
                continue;
            }
            if !in_quotes && matches!(c, ' ' | '\t') {
                break;
            }
            w.push(c);
            i += 1;
        }
        args.push(w);
    }
}

/// The text of every `Exec` action's `Command` and `Arguments`, and every element's name.
/// Each `Exec` action's (command, arguments).
type Execs = Vec<(String, String)>;

fn task_read(xml: &str) -> Result<(Execs, Vec<String>), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut path, mut names, mut execs) = (Vec::<String>::new(), Vec::new(), Vec::new());
    let (mut command, mut arguments) = (String::new(), String::new());
    loop {
        let ev = reader.read_event().map_err(|e| format!("not XML: {e}"))?;
        let into = match path.last().map(String::as_str) {
            Some("Command") => Some(&mut command),
            Some("Arguments") => Some(&mut arguments),
            _ => None,
        };
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                names.push(name.clone());
                path.push(name);
            }
            Event::Empty(e) => names.push(e.local_name().as_ref().to_owned()),
            Event::End(_) => {
                let closed = path.pop();
                if closed.as_deref() == Some("Exec") {
                    execs.push((std::mem::take(&mut command), std::mem::take(&mut arguments)));
                }
            }
            Event::Text(e) => {
                if let Some(into) = into {
                    into.push_str(&e.xml10_content());
                }
            }
            Event::GeneralRef(e) => {
                let c = match e.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&e)
                        .ok_or(format!("an unknown entity &{};", &*e))?
                        .to_owned(),
                };
                if let Some(into) = into {
                    into.push_str(&c);
                }
            }
            Event::CData(_) => return Err("CDATA".into()),
            Event::Eof => return Ok((execs, names)),
            _ => {}
        }
    }
}

fn task_read_back(xml: &str, job: &Job) -> Result<(), String> {
    let (execs, names) = task_read(xml)?;
    for action in ["ComHandler", "SendEmail", "ShowMessage"] {
        if names.iter().any(|n| n == action) {
            return Err(format!("an action {action}"));
        }
    }
    let [(command, arguments)] = execs.as_slice() else {
        return Err(format!("{} Exec actions", execs.len()));
    };
    if command.contains('%') || arguments.contains('%') {
        return Err("a % that Task Scheduler would expand".into());
    }
    let mut words = vec![command.clone()];
    words.extend(command_line_to_argv(arguments));
    if words != argv(job) {
        return Err(format!("{command:?} {arguments:?} read back as {words:?}"));
    }
    Ok(())
}

#[test]
fn a_task_scheduler_definition_carries_every_character_of_every_field_or_refuses_it() {
    for slot in SLOTS {
        if matches!(slot, Slot::Log | Slot::Variable) {
            continue; // a task has neither
        }
        for text in texts(3) {
            let (job, _) = job_with(slot, &text);
            match schedule::task_xml(&job, 7) {
                Ok(xml) => {
                    if let Err(e) = task_read_back(&xml, &job) {
                        panic!("{slot:?} {text:?}: {e}\n{xml}");
                    }
                }
                Err(e) => {
                    let refusable = |c: char| {
                        (c.is_ascii_control() && c != '\t')
                            || matches!(c, '%' | '\u{fffe}' | '\u{ffff}')
                            || (c == '"' && matches!(slot, Slot::Program))
                    };
                    assert!(
                        text.chars().any(refusable),
                        "{slot:?} {text:?} refused: {e}"
                    );
                    named(&e, slot, &text);
                }
            }
        }
    }
}

// ---- `schedule install` with the stand-in crontab and systemctl ----------------------------

/// A home with a target and stand-in `crontab` / `systemctl` (recording what they are given)
/// first on PATH.
#[cfg(unix)]
struct Scheduling {
    home: tempfile::TempDir,
    bin: PathBuf,
    crontab: PathBuf,
}

#[cfg(unix)]
impl Scheduling {
    fn new(systemd: bool) -> Scheduling {
        use std::os::unix::fs::PermissionsExt;
        let home = tmp();
        let h = home.path();
        std::fs::create_dir_all(h.join("config/targets")).unwrap();
        std::fs::copy(
            support::repo().join("mappings/targets/example.toml"),
            h.join("config/targets/stand.toml"),
        )
        .unwrap();
        let bin = h.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let crontab = h.join("crontab.txt");
        let systemctl = format!(
            "#!/bin/sh\nif [ \"$2\" = show-environment ]; then exit {}; fi\nexit 0\n",
            if systemd { 0 } else { 1 }
        );
        let cron = format!(
            "#!/bin/sh\nif [ \"$1\" = -l ]; then\n  if [ -f '{tab}' ]; then cat '{tab}'; exit 0; fi\n  echo 'no crontab for tester' >&2; exit 1\nfi\nif [ \"$1\" = - ]; then cat > '{tab}'; exit 0; fi\nexit 1\n",
            tab = crontab.display()
        );
        for (name, text) in [("systemctl", systemctl), ("crontab", cron)] {
            let p = bin.join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Scheduling { home, bin, crontab }
    }

    fn install(&self, folder: &Path) -> Run {
        let h = self.home.path();
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap());
        let mut c = support::sheetbridge(h, &["schedule", "install", "--target", "stand"]);
        c.arg("--folder")
            .arg(folder)
            .env("PATH", path)
            .env("HOME", h)
            .env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SHEETBRIDGE_TOKEN")
            .stdin(std::process::Stdio::null());
        c.output().unwrap().into()
    }

    fn unit(&self) -> Option<String> {
        std::fs::read_to_string(
            self.home
                .path()
                .join(".config/systemd/user/sheetbridge-watch.service"),
        )
        .ok()
    }
}

/// Folder names that break out of naive quoting, each a real folder the install creates.
#[cfg(unix)]
const HOSTILE_FOLDERS: [&str; 6] = [
    "a'; touch pwned; '",
    "$(touch pwned)",
    "100% \\%`touch pwned`",
    "a\" \"--target\" \"other",
    "x\\",
    "%h%n$HOME${HOME}",
];

#[cfg(unix)]
#[test]
fn schedule_install_with_cron_refuses_a_newline_and_quotes_the_rest() {
    let s = Scheduling::new(false);
    let h = s.home.path();
    // The newline that would end the line and run a command of its own, with cron's `%`.
    let evil = h.join("待上报\n* * * * * touch /tmp/pwned %");
    let r = s.install(&evil);
    r.says(2, &["要监视的文件夹", "\\n"]);
    assert!(!s.crontab.exists(), "nothing installed");
    assert!(!evil.exists(), "nothing created");
    for name in HOSTILE_FOLDERS {
        let folder = h.join(name);
        let r = s.install(&folder);
        r.says(0, &[]);
        let tab = std::fs::read_to_string(&s.crontab).unwrap();
        let lines: Vec<&str> = tab.lines().collect();
        assert_eq!(lines.len(), 1, "{tab}");
        // Read back with cron's and sh's rules: the folder comes back whole.
        let (command, stdin) = cron_unpercent(lines[0].splitn(6, ' ').nth(5).unwrap());
        assert!(stdin.is_empty(), "{tab}");
        let toks = sh_tokens(&command).unwrap_or_else(|e| panic!("{e}"));
        let words: Vec<&str> = toks
            .iter()
            .filter_map(|t| match t {
                Tok::Word {
                    text,
                    assign: false,
                } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let f = std::path::absolute(&folder).unwrap();
        assert_eq!(
            &words[1..6],
            [
                "watch",
                "--target=stand",
                "--once",
                "--",
                f.to_str().unwrap()
            ],
            "{tab}"
        );
        // And run by a real /bin/sh as cron would: nothing but sheetbridge runs.
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command.replace(&words[0].to_string(), "/bin/echo"))
            .current_dir(h)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(!h.join("pwned").exists(), "{tab}");
    }
}

#[cfg(unix)]
#[test]
fn schedule_install_with_systemd_refuses_a_newline_and_quotes_the_rest() {
    let s = Scheduling::new(true);
    let h = s.home.path();
    let evil = h.join("待上报\nExecStartPre=/usr/bin/touch /tmp/pwned");
    let r = s.install(&evil);
    r.says(2, &["要监视的文件夹", "\\n"]);
    assert_eq!(s.unit(), None, "nothing installed");
    assert!(!evil.exists(), "nothing created");
    for name in HOSTILE_FOLDERS {
        let folder = h.join(name);
        s.install(&folder).says(0, &[]);
        let unit = s.unit().unwrap();
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let words: Vec<String> = systemd_words(exec)
            .unwrap()
            .into_iter()
            .map(|(w, _)| systemd_unvariable(&w).unwrap())
            .collect();
        let f = std::path::absolute(&folder).unwrap();
        assert_eq!(
            &words[1..6],
            [
                "watch",
                "--target=stand",
                "--once",
                "--",
                f.to_str().unwrap()
            ],
            "{unit}"
        );
        assert_eq!(
            unit.lines().filter(|l| l.starts_with("Exec")).count(),
            1,
            "{unit}"
        );
    }
}

// ---- CSV and spreadsheet cells -------------------------------------------------------------

/// Cells starting with every character U+0000..=U+00FF (and a few wider ones): in CSV, none
/// starts with what a spreadsheet runs as a formula (`= + - @`, tab, CR) unless the apostrophe
/// comes first; in xlsx every cell is text, never a formula.
#[test]
fn written_cells_starting_with_any_character_are_never_formulas() {
    let home = tmp();
    let h = home.path();
    let col = HEADER.iter().position(|x| *x == "现住址").unwrap();
    let site = HEADER.iter().position(|x| *x == "采样点").unwrap();
    let mut rows = vec![HEADER.iter().map(|x| t(x)).collect::<Vec<V>>()];
    let mut leads: Vec<char> = (0u32..=0xff).filter_map(char::from_u32).collect();
    leads.extend(['\u{ff1d}', '\u{202e}', '核']);
    for (i, c) in leads.iter().enumerate() {
        let mut row = person(i as u32, &format!("T{:010}", i));
        row[col] = t(&format!(
            "{c}HYPERLINK(\"http://x\")广州市天河区天河路{i}号"
        ));
        row[site] = t(&format!("{c}1+1"));
        rows.push(row);
    }
    let input = h.join("in.xlsx");
    write_xlsx(&input, &[support::SheetSpec::new("Sheet1", rows)]);
    let csv = h.join("out.csv");
    let r = support::run(
        h,
        &[
            "convert",
            input.to_str().unwrap(),
            "-o",
            csv.to_str().unwrap(),
        ],
    );
    assert!(matches!(r.code, 0 | 3), "{}", r.stderr);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&csv)
        .unwrap();
    let mut cells = 0;
    for rec in reader.records() {
        for cell in rec.unwrap().iter() {
            let cell = cell.trim_start_matches('\u{feff}');
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a formula-like cell: {cell:?}"
            );
        }
    }
    assert!(cells > 100 * HEADER.len(), "{cells} cells");
    // Each dangerous start that was written came back with its apostrophe.
    let text = std::fs::read_to_string(&csv).unwrap();
    for c in ['=', '+', '-', '@'] {
        assert!(text.contains(&format!("'{c}1+1")), "{c}");
    }
    let xlsx = h.join("out.xlsx");
    let r = support::run(
        h,
        &[
            "convert",
            input.to_str().unwrap(),
            "-o",
            xlsx.to_str().unwrap(),
        ],
    );
    assert!(matches!(r.code, 0 | 3), "{}", r.stderr);
    // Every cell a string (read_text_sheet panics otherwise), and no formula in the file.
    let sheet = support::read_text_sheet(&xlsx);
    assert!(
        sheet
            .iter()
            .any(|r| r.iter().any(|c| c.starts_with("=1+1")))
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    assert!(!xml.contains("<f>") && !xml.contains("<f "), "a formula");
}

/// Every line the program prints shows a file name with its control characters escaped: a
/// name holding any control byte (or a bidirectional override) gives one line per message, in
/// both languages, from `check` and from `convert` with its written files.
#[test]
fn a_file_name_with_any_control_character_stays_on_its_line() {
    let home = tmp();
    let sample = support::repo().join("assets/sample/核酸结果导出样例.xlsx");
    // Each name's part after the character starts with 后: it must never start a line.
    for (i, c) in hostile_chars().enumerate() {
        let dir = home.path().join(format!("d{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join(format!("前{c}后.xlsx"));
        std::fs::copy(&sample, &input).unwrap();
        let input = input.to_str().unwrap();
        let errors = dir.join(format!("错{c}后行.xlsx"));
        let out = dir.join(format!("出{c}后表.xlsx"));
        let missing = dir.join(format!("无{c}后表.xlsx"));
        let missing = missing.to_str().unwrap();
        for args in [
            vec!["check", missing],
            vec!["convert", missing, "--lang", "en"],
            vec!["check", input],
            vec!["check", input, "--lang", "en"],
            vec!["convert", input, "--errors-out", errors.to_str().unwrap()],
            vec![
                "convert",
                input,
                "--lang",
                "en",
                "-o",
                out.to_str().unwrap(),
            ],
        ] {
            let r = support::run(home.path(), &args);
            assert!([0, 2, 3].contains(&r.code), "{args:?}: {}", r.stderr);
            one_line_each(c, &format!("{args:?} stdout"), &r.stdout);
            one_line_each(c, &format!("{args:?} stderr"), &r.stderr);
        }
    }
}

/// A hostile character for a line of output: every control character, and the overrides that
/// reorder a line.
fn hostile_chars() -> impl Iterator<Item = char> {
    (0x01u32..0x20)
        .chain([0x7f, 0x85, 0x9b, 0x202e, 0x2066])
        .filter_map(char::from_u32)
}

/// No control character but the line break, and no line that starts with what followed the
/// hostile character (`后`): the text it was put into stayed one line.
#[track_caller]
fn one_line_each(c: char, what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&ch| ch != '\n' && (ch.is_control() || matches!(ch, '\u{202e}' | '\u{2066}')))
        .collect();
    assert!(bad.is_empty(), "{c:?} {what}: {bad:?} in {text}");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with('后')),
        "{c:?} {what}: {text}"
    );
}

/// Names typed on the command line (a target, a source, a profile, a batch id, a pack) with any
/// control character: every message that quotes one keeps it on its line, in both languages,
/// and clap's own refusals too.
#[test]
fn a_name_typed_with_any_control_character_stays_on_its_line() {
    let home = tmp();
    let sample = support::repo().join("assets/sample/核酸结果导出样例.xlsx");
    let input = sample.to_str().unwrap();
    for c in hostile_chars() {
        let name = format!("前{c}后");
        let out = home.path().join(format!("包{c}后.zip"));
        for lang in ["zh", "en"] {
            for args in [
                vec!["upload", input, "--target", &name],
                vec!["check", input, "-p", &name],
                vec!["fetch", "--source", &name, "-o", "out"],
                vec!["outbox", "retry", &name],
                vec!["pack", "rollback", &name],
                vec!["lookup", &name],
                vec!["diagnose", "-o", out.to_str().unwrap()],
                vec!["convert", input, &name],
                vec![&name],
            ] {
                let mut all = args.clone();
                all.extend(["--lang", lang]);
                let r = support::run(home.path(), &all);
                one_line_each(c, &format!("{all:?} stdout"), &r.stdout);
                one_line_each(c, &format!("{all:?} stderr"), &r.stderr);
            }
        }
    }
}

/// A platform's answer with any control character in its message (a line break, an escape
/// sequence, a NUL): said on one line, and the log's line too.
#[test]
fn a_platforms_answer_with_any_control_character_stays_on_its_line() {
    use super::network::{Raw, Request, home_with_target, respond, target_toml};
    use std::sync::atomic::AtomicBool;
    for (c, lang) in hostile_chars().flat_map(|c| [(c, "zh"), (c, "en")]) {
        let home = tmp();
        let message = serde_json::json!({"code": "E1", "msg": format!("拒收{c}后 FORGED")});
        let body = message.to_string().into_bytes();
        let server = Raw::start(std::sync::Arc::new(
            move |_: &Request, conn: &mut std::net::TcpStream, _: &AtomicBool| {
                respond(conn, 200, &[("Content-Type", "application/json")], &body);
            },
        ));
        let toml = target_toml("t", &server.url(), "none", 10);
        let file = home_with_target(home.path(), "t", &toml, 1);
        {
            let r = support::run(
                home.path(),
                &[
                    "upload",
                    file.to_str().unwrap(),
                    "--target",
                    "t",
                    "--lang",
                    lang,
                ],
            );
            assert_eq!(r.code, 5, "{c:?}: {}", r.stderr);
            assert!(r.stderr.contains("FORGED"), "{c:?}: {}", r.stderr);
            one_line_each(c, "upload stderr", &r.stderr);
            one_line_each(c, "upload stdout", &r.stdout);
        }
        let log = std::fs::read_to_string(home.path().join("data/logs/sheetbridge.log")).unwrap();
        one_line_each(c, "log", &log);
    }
}
