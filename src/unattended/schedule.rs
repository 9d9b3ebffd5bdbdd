//! The scheduled task (`sheetbridge schedule`): `watch FOLDER --target T --once` registered
//! with the system's scheduler for the current user, without administrator rights: a systemd
//! user timer on Linux, cron where there is no systemd user session, Task Scheduler
//! (`schtasks`) on Windows. The start minute is chosen at random within the interval, once per
//! install, so that many PCs do not all reach the platform at the same second.
//!
//! Credentials never go into the task: a run reads the remembered ones (crate::credentials).
//! The scheduler programs are found on `PATH` (tests put stand-ins there).
// Over 600 lines: the schedule format, its next-run arithmetic and their tests.

use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The systemd units' name.
pub const UNIT: &str = "sheetbridge-watch";
/// The Task Scheduler task's name.
pub const TASK: &str = "SheetBridge自动上报";
/// Marks our line in a crontab.
const CRON_MARK: &str = "# sheetbridge-watch";

/// Which scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    Systemd,
    Cron,
    Schtasks,
}

impl Backend {
    pub fn zh(self) -> &'static str {
        match self {
            Backend::Systemd => "systemd 用户定时器",
            Backend::Cron => "cron",
            Backend::Schtasks => "Windows 任务计划程序",
        }
    }
}

/// Why the task could not be installed, removed or read.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum ScheduleError {
    Every(u32),
    Program {
        program: String,
        detail: String,
        hint: &'static str,
    },
    Io {
        path: PathBuf,
        detail: String,
    },
    /// A field holds a character the scheduler's format cannot carry safely.
    Unquotable {
        field: Field,
        backend: Backend,
        ch: char,
    },
    /// A path that is not Unicode.
    NotUnicode {
        field: Field,
        backend: Backend,
        shown: String,
    },
}

impl Localized for ScheduleError {
    fn message(&self) -> Text {
        match self {
            ScheduleError::Every(m) => Text::new(
                format!(
                    "间隔 {m} 分钟不行：请用能整除 60 的分钟数（5、10、15、20、30、60），或整小时数（120、180、240、360、480、720、1440）。"
                ),
                format!(
                    "an interval of {m} minutes is not supported: use a divisor of 60 or whole hours dividing a day"
                ),
            ),
            ScheduleError::Program {
                program,
                detail,
                hint,
            } => Text::new(
                format!("运行「{program}」失败：{detail}。{hint}"),
                format!("{program} failed: {detail}"),
            ),
            ScheduleError::Unquotable { field, backend, ch } => {
                let Text { zh, en } = field.names();
                let c = shown_char(*ch);
                Text::new(
                    format!(
                        "{zh}里有字符「{c}」，{}的任务里不能安全地写入它，定时任务没有安装。请把它改掉（例如给文件夹改个名，去掉这个字符）后再安装。",
                        backend.zh()
                    ),
                    format!(
                        "{en} holds the character {c:?}, which cannot be written safely into a {backend:?} task; nothing was installed. Rename it without that character and install again."
                    ),
                )
            }
            ScheduleError::NotUnicode {
                field,
                backend,
                shown,
            } => {
                let Text { zh, en } = field.names();
                Text::new(
                    format!(
                        "{zh}「{shown}」里有无法识别的字符，{}的任务里不能写入它，定时任务没有安装。请给它改个名后再安装。",
                        backend.zh()
                    ),
                    format!(
                        "{en} ({shown}) is not valid Unicode and cannot be written into a {backend:?} task; nothing was installed. Rename it and install again."
                    ),
                )
            }
            ScheduleError::Io { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法写文件「{path}」：{detail}"),
                    format!("{path}: {detail}"),
                )
            }
        }
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// This program.
    pub exe: PathBuf,
    pub folder: PathBuf,
    pub target: String,
    pub source: Option<String>,
    /// Minutes between runs.
    pub every: u32,
    /// Environment for the run (folder overrides, language): never credentials.
    pub env: Vec<(String, String)>,
}

impl Job {
    /// The arguments after the program (as `status` and the window show them, and as the run
    /// receives them). A value is never an option, whatever it starts with (`-ok`,
    /// `--profile=x`): an option's value is glued to it (`--target=VALUE`), and the folder comes
    /// after `--`, so the argument parser reads back exactly the values given
    /// (guarantees.md §3).
    pub fn args(&self) -> Vec<String> {
        self.fields()
            .into_iter()
            .map(|(_, w)| match w {
                Word::Fixed(w) => w.to_owned(),
                Word::Option(name, value) => format!("{name}={value}"),
                Word::Path(p) => p.to_string_lossy().into_owned(),
            })
            .collect()
    }

    /// The arguments after the program, each with its field: the one place that says how a
    /// value is passed.
    fn fields(&self) -> Vec<(Field, Word<'_>)> {
        let mut a = vec![
            (Field::Word, Word::Fixed("watch")),
            (Field::Target, Word::Option("--target", &self.target)),
            (Field::Word, Word::Fixed("--once")),
        ];
        if let Some(s) = &self.source {
            a.push((Field::Source, Word::Option("--source", s)));
        }
        // Positionals only from here: a folder starting with `-` is still the folder.
        a.push((Field::Word, Word::Fixed("--")));
        a.push((Field::Folder, Word::Path(&self.folder)));
        a
    }

    /// Every word of the command, the program first, each with the field it comes from: what
    /// the quoting functions are given. A path that is not Unicode is refused.
    pub fn words(&self, backend: Backend) -> Result<Vec<(Field, String)>, ScheduleError> {
        let mut words = vec![path_text(Field::Program, &self.exe, backend)?];
        for (field, word) in self.fields() {
            words.push(match word {
                Word::Fixed(w) => (field, w.to_owned()),
                Word::Option(name, value) => (field, format!("{name}={value}")),
                Word::Path(p) => path_text(field, p, backend)?,
            });
        }
        Ok(words)
    }
}

/// A word after the program.
enum Word<'a> {
    /// Written by the program (`watch`, `--once`, `--`).
    Fixed(&'static str),
    /// An option and its value, one word.
    Option(&'static str, &'a str),
    /// A path, positional.
    Path(&'a Path),
}

/// The record of an install, `schedule.json` in the data folder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Installed {
    pub backend: Backend,
    pub every: u32,
    /// Minutes after midnight of the first run of the day (0 <= start < every).
    pub start: u32,
    /// The command as registered (for `status`).
    pub command: String,
}

/// What `status` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Our record of the install (None: not installed by us).
    pub installed: Option<Installed>,
    /// The scheduler still has it.
    pub registered: bool,
    pub last_run: Option<super::watch::LastRun>,
    /// Local time of the next run, `YYYY-MM-DD HH:MM`.
    pub next_run: Option<String>,
}

/// Checks the interval.
pub fn check_every(every: u32) -> Result<(), ScheduleError> {
    let ok = ((1..=60).contains(&every) && 60u32.is_multiple_of(every))
        || (every > 60 && every.is_multiple_of(60) && 1440u32.is_multiple_of(every));
    if ok {
        Ok(())
    } else {
        Err(ScheduleError::Every(every))
    }
}

/// A random start within the interval (minutes after midnight).
pub fn random_start(every: u32) -> u32 {
    fastrand::u32(0..every.max(1))
}

/// The systemd `OnCalendar=` expression.
pub fn on_calendar(every: u32, start: u32) -> String {
    if every <= 60 {
        if every == 60 {
            format!("*-*-* *:{start:02}:00")
        } else {
            format!("*-*-* *:{start:02}/{every}:00")
        }
    } else {
        let (h, m, hours) = (start / 60, start % 60, every / 60);
        if hours >= 24 {
            format!("*-*-* {h:02}:{m:02}:00")
        } else {
            format!("*-*-* {h:02}/{hours}:{m:02}:00")
        }
    }
}

/// The cron time fields.
pub fn cron_time(every: u32, start: u32) -> String {
    if every < 60 {
        format!("{start}-59/{every} * * * *")
    } else if every == 60 {
        format!("{start} * * * *")
    } else {
        let (h, m, hours) = (start / 60, start % 60, every / 60);
        if hours >= 24 {
            format!("{m} {h} * * *")
        } else {
            format!("{m} {h}-23/{hours} * * *")
        }
    }
}

/// The next run after `now` (local): the first minute of the day m > now with
/// (m - start) % every == 0.
pub fn next_run(every: u32, start: u32, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let every = every.max(1);
    let midnight = now.date().and_hms_opt(0, 0, 0).unwrap_or(now);
    let minute_now = now.hour() * 60 + now.minute();
    // Runs on day d are at start + k*every (< 1440); the first one after now.
    let mut m = start % every;
    let mut day = 0i64;
    loop {
        if day > 0 || m > minute_now {
            return midnight
                + chrono::Duration::days(day)
                + chrono::Duration::minutes(i64::from(m));
        }
        m += every;
        if m >= 1440 {
            m = start % every;
            day += 1;
        }
    }
}

/// A field of the scheduled task: every text that goes into a crontab line, a systemd unit or a
/// Task Scheduler definition is one of these, and is named when it cannot be written safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// This program's path.
    Program,
    /// The watched folder.
    Folder,
    /// The target's name.
    Target,
    /// The source's name.
    Source,
    /// The log of the cron runs (in the data folder).
    Log,
    /// A variable passed on to the run (its name).
    Variable(String),
    /// A word of the command itself (`watch`, `--once`).
    Word,
}

impl Field {
    fn names(&self) -> Text {
        match self {
            Field::Program => Text::new("本程序的路径", "the program's path"),
            Field::Folder => Text::new("要监视的文件夹", "the watched folder"),
            Field::Target => Text::new("上报目标的名称", "the target's name"),
            Field::Source => Text::new("数据来源的名称", "the source's name"),
            Field::Log => Text::new("定时任务的日志文件", "the scheduled run's log"),
            Field::Variable(name) => {
                let name = crate::paths::for_line(name);
                Text::new(format!("环境变量 {name}"), format!("the variable {name}"))
            }
            Field::Word => Text::new("命令", "the command"),
        }
    }
}

/// A character as a message shows it: the character in 「」, a control character escaped.
fn shown_char(c: char) -> String {
    match c {
        '\0' => "NUL".into(),
        c => crate::paths::for_line(&c.to_string()),
    }
}

/// What every builder below does with a field it cannot write: refuse it, naming the field.
fn unquotable(field: &Field, backend: Backend, c: char) -> ScheduleError {
    ScheduleError::Unquotable {
        field: field.clone(),
        backend,
        ch: c,
    }
}

/// A path as a field's text; a name that is not Unicode cannot be written into any of the
/// formats as it is, so it is refused.
fn path_text(
    field: Field,
    path: &Path,
    backend: Backend,
) -> Result<(Field, String), ScheduleError> {
    match path.to_str() {
        Some(s) => Ok((field, s.to_owned())),
        None => Err(ScheduleError::NotUnicode {
            field,
            backend,
            shown: crate::paths::shown(path),
        }),
    }
}

/// A variable's name: letters, digits and `_`, not starting with a digit (every scheduler
/// takes that as a name; anything else is refused).
fn variable_name(name: &str, backend: Backend) -> Result<(), ScheduleError> {
    let field = Field::Variable(name.to_owned());
    let mut chars = name.chars();
    match chars.next() {
        None => Err(unquotable(&field, backend, '=')),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => Err(unquotable(&field, backend, c)),
        _ => match name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            Some(c) => Err(unquotable(&field, backend, c)),
            None => Ok(()),
        },
    }
}

/// The one quoting function for a crontab line: a word for `/bin/sh`, as cron hands it over.
/// Single quotes keep every byte literal for sh except `'` (written `'\''`); cron turns an
/// unescaped `%` into a newline and `\%` into `%`, so a `%` is written outside the quotes as
/// `'\%'` (cron sees `\%`, sh an unquoted `%`), which also holds after a backslash of the
/// field's own. A newline, a carriage return or a NUL cannot be written in a crontab line:
/// refused, naming the field.
pub fn cron_word(field: &Field, text: &str) -> Result<String, ScheduleError> {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('\'');
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\0' => return Err(unquotable(field, Backend::Cron, c)),
            '\'' => s.push_str("'\\''"),
            '%' => s.push_str("'\\%'"),
            c => s.push(c),
        }
    }
    s.push('\'');
    Ok(s)
}

/// The one quoting function for a systemd unit: a word in double quotes, as `ExecStart=` and
/// `Environment=` unquote it. `\` and `"` are escaped with a backslash, other ASCII control
/// characters written as `\xNN` (systemd's C escapes), `%` as `%%` (specifiers); `$` as `$$`
/// where the line expands variables (`ExecStart=`, `expands_variables`), as it is in
/// `Environment=`. A newline or a NUL cannot be written in a unit file: refused, naming the
/// field.
pub fn systemd_word(
    field: &Field,
    text: &str,
    expands_variables: bool,
) -> Result<String, ScheduleError> {
    use std::fmt::Write;
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '\n' | '\0' => return Err(unquotable(field, Backend::Systemd, c)),
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '%' => s.push_str("%%"),
            '$' if expands_variables => s.push_str("$$"),
            c if c.is_ascii_control() => {
                let _ = write!(s, "\\x{:02x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    Ok(s)
}

/// Characters a Task Scheduler definition cannot carry: what XML 1.0 does not allow (control
/// characters but the tab; U+FFFE, U+FFFF), newlines (not kept in a command line), and `%`
/// (Task Scheduler expands `%NAME%` in the command and its arguments, with no escape).
fn windows_refuses(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || matches!(c, '%' | '\u{fffe}' | '\u{ffff}')
}

/// Text for an XML element: `&`, `<`, `>`, quotes as entities, the tab as `&#9;`.
fn xml_text(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            '\t' => s.push_str("&#9;"),
            c => s.push(c),
        }
    }
    s
}

/// The one quoting function for a Task Scheduler argument: quoted by the rules the program's
/// C runtime reads its command line with (CommandLineToArgvW): in double quotes, a `"` as
/// `\"`, the backslashes before a `"` or before the closing quote doubled. The result is text
/// for the XML `<Arguments>` element, escaped by [`task_xml`]. Refused, naming the field: what
/// [`windows_refuses`] lists.
pub fn windows_arg(field: &Field, text: &str) -> Result<String, ScheduleError> {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    let mut backslashes = 0usize;
    for c in text.chars() {
        if windows_refuses(c) {
            return Err(unquotable(field, Backend::Schtasks, c));
        }
        match c {
            '\\' => backslashes += 1,
            '"' => {
                s.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                s.push('"');
                backslashes = 0;
            }
            c => {
                s.extend(std::iter::repeat_n('\\', backslashes));
                s.push(c);
                backslashes = 0;
            }
        }
    }
    s.extend(std::iter::repeat_n('\\', backslashes * 2));
    s.push('"');
    Ok(s)
}

/// The program's path for `<Command>`: a Windows path holds no `"`; refused with it, or with
/// what [`windows_refuses`] lists.
fn windows_program(field: &Field, text: &str) -> Result<String, ScheduleError> {
    match text.chars().find(|c| windows_refuses(*c) || *c == '"') {
        Some(c) => Err(unquotable(field, Backend::Schtasks, c)),
        None => Ok(text.to_owned()),
    }
}

/// The crontab line: time fields, the variables, the command, its log, our mark. Every field
/// goes through [`cron_word`].
pub fn cron_line(job: &Job, start: u32, log: &Path) -> Result<String, ScheduleError> {
    let command = cron_command(job, log)?;
    Ok(format!(
        "{} {command} {CRON_MARK}",
        cron_time(job.every, start)
    ))
}

/// The command part of [`cron_line`] (what `status` records).
fn cron_command(job: &Job, log: &Path) -> Result<String, ScheduleError> {
    let mut words = Vec::new();
    for (k, v) in &job.env {
        variable_name(k, Backend::Cron)?;
        words.push(format!(
            "{k}={}",
            cron_word(&Field::Variable(k.clone()), v)?
        ));
    }
    for (field, text) in job.words(Backend::Cron)? {
        words.push(cron_word(&field, &text)?);
    }
    let (field, log) = path_text(Field::Log, log, Backend::Cron)?;
    Ok(format!(
        "{} >> {} 2>&1",
        words.join(" "),
        cron_word(&field, &log)?
    ))
}

/// The `ExecStart=` value: every word through [`systemd_word`]. The program's path must be
/// absolute (systemd's rule; a relative one is refused).
fn systemd_exec(job: &Job) -> Result<String, ScheduleError> {
    let mut exec = Vec::new();
    for (field, text) in job.words(Backend::Systemd)? {
        if field == Field::Program && !text.starts_with('/') {
            return Err(unquotable(
                &field,
                Backend::Systemd,
                text.chars().next().unwrap_or('\0'),
            ));
        }
        exec.push(systemd_word(&field, &text, true)?);
    }
    Ok(exec.join(" "))
}

/// The systemd service unit: the variables (`Environment=`) and `ExecStart=`, every field
/// through [`systemd_word`].
pub fn systemd_service(job: &Job) -> Result<String, ScheduleError> {
    let mut env = String::new();
    for (k, v) in &job.env {
        variable_name(k, Backend::Systemd)?;
        env.push_str("Environment=");
        env.push_str(&systemd_word(
            &Field::Variable(k.clone()),
            &format!("{k}={v}"),
            false,
        )?);
        env.push('\n');
    }
    let exec = systemd_exec(job)?;
    Ok(format!(
        "[Unit]\nDescription=核酸结果自动上报（sheetbridge watch --once）\n\n[Service]\nType=oneshot\n{env}ExecStart={exec}\n"
    ))
}

/// The Task Scheduler definition (XML, as `schtasks /Create /XML` takes it): the program in
/// `<Command>`, the arguments through [`windows_arg`] in `<Arguments>`, a calendar trigger
/// from the start minute, repeated every `every` minutes through the day. Task Scheduler has
/// no variables for an action: the folders come from the program's defaults there.
pub fn task_xml(job: &Job, start: u32) -> Result<String, ScheduleError> {
    let mut words = job.words(Backend::Schtasks)?.into_iter();
    let (field, exe) = words.next().unwrap_or((Field::Program, String::new()));
    let command = windows_program(&field, &exe)?;
    let mut args = Vec::new();
    for (field, text) in words {
        args.push(windows_arg(&field, &text)?);
    }
    let repetition = if job.every < 1440 {
        format!(
            "<Repetition><Interval>PT{}M</Interval><Duration>P1D</Duration><StopAtDurationEnd>false</StopAtDurationEnd></Repetition>",
            job.every
        )
    } else {
        String::new()
    };
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><Description>核酸结果自动上报（sheetbridge watch --once）</Description></RegistrationInfo>
  <Triggers>
    <CalendarTrigger>
      {repetition}
      <StartBoundary>2020-01-01T{:02}:{:02}:00</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals><Principal id="Author"><LogonType>InteractiveToken</LogonType><RunLevel>LeastPrivilege</RunLevel></Principal></Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT1H</ExecutionTimeLimit>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{}</Command>
      <Arguments>{}</Arguments>
    </Exec>
  </Actions>
</Task>
"#,
        start / 60,
        start % 60,
        xml_text(&command),
        xml_text(&args.join(" "))
    ))
}

fn exe_shown(job: &Job) -> String {
    job.exe.to_string_lossy().into_owned()
}

/// The scheduler for this user.
pub struct Scheduler {
    pub backend: Backend,
    /// Where systemd user units go (`~/.config/systemd/user`).
    pub unit_dir: PathBuf,
    /// The data folder: `schedule.json`, `last-run.json`, the cron run log.
    pub data_dir: PathBuf,
}

fn run(
    program: &str,
    args: &[String],
    input: Option<&str>,
) -> Result<(i32, String, String), ScheduleError> {
    let hint = match program {
        "crontab" => {
            "这台电脑既没有 systemd 用户会话，也没有装 cron：请让信息科安装 cron（例如 apt-get install cron），或在窗口开着时使用自动上报。"
        }
        "systemctl" => "systemd 用户会话不可用。",
        _ => "请确认当前用户可以使用任务计划程序。",
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let err = |detail: String| ScheduleError::Program {
        program: program.to_owned(),
        detail,
        hint,
    };
    let mut child = cmd.spawn().map_err(|e| err(io_message(&e)))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write;
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| err(io_message(&e)))?;
    }
    let out = child.wait_with_output().map_err(|e| err(io_message(&e)))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn checked(program: &str, args: &[&str], input: Option<&str>) -> Result<String, ScheduleError> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let (code, out, err) = run(program, &args, input)?;
    if code == 0 {
        Ok(out)
    } else {
        Err(ScheduleError::Program {
            program: format!("{program} {}", args.join(" ")),
            detail: format!("退出码 {code}：{}", err.trim()),
            hint: "",
        })
    }
}

/// Is there a systemd user session to register a timer with?
pub fn systemd_user_session() -> bool {
    matches!(
        run(
            "systemctl",
            &["--user".into(), "show-environment".into()],
            None
        ),
        Ok((0, _, _))
    )
}

impl Scheduler {
    /// The current user's scheduler: Task Scheduler on Windows, a systemd user timer where a
    /// user session answers, else cron; the install record in `data_dir`.
    pub fn for_user(data_dir: PathBuf) -> Scheduler {
        let backend = if cfg!(windows) {
            Backend::Schtasks
        } else if systemd_user_session() {
            Backend::Systemd
        } else {
            Backend::Cron
        };
        let unit_dir = directories::BaseDirs::new()
            .map(|b| b.config_dir().join("systemd").join("user"))
            .unwrap_or_else(|| data_dir.join("systemd"));
        Scheduler {
            backend,
            unit_dir,
            data_dir,
        }
    }

    fn record_path(&self) -> PathBuf {
        self.data_dir.join("schedule.json")
    }

    fn write(&self, path: &Path, text: &str) -> Result<(), ScheduleError> {
        crate::credentials::write_private(path, text.as_bytes()).map_err(|e| ScheduleError::Io {
            path: path.to_owned(),
            detail: io_message(&e),
        })
    }

    /// Builds the task for this scheduler without installing it: a field its format cannot
    /// carry is refused (naming the field) before anything is created or written.
    pub fn check(&self, job: &Job) -> Result<(), ScheduleError> {
        check_every(job.every)?;
        match self.backend {
            Backend::Systemd => systemd_service(job).map(drop),
            Backend::Cron => cron_line(job, 0, &self.data_dir.join("watch-cron.log")).map(drop),
            Backend::Schtasks => task_xml(job, 0).map(drop),
        }
    }

    /// Installs (or replaces) the task, starting `start` minutes after midnight.
    pub fn install(&self, job: &Job, start: u32) -> Result<Installed, ScheduleError> {
        check_every(job.every)?;
        let start = start % job.every;
        let command = match self.backend {
            Backend::Systemd => self.install_systemd(job, start)?,
            Backend::Cron => self.install_cron(job, start)?,
            Backend::Schtasks => self.install_schtasks(job, start)?,
        };
        let installed = Installed {
            backend: self.backend,
            every: job.every,
            start,
            command,
        };
        let json = serde_json::to_string_pretty(&installed).map_err(|e| ScheduleError::Io {
            path: self.record_path(),
            detail: e.to_string(),
        })?;
        self.write(&self.record_path(), &json)?;
        Ok(installed)
    }

    fn install_systemd(&self, job: &Job, start: u32) -> Result<String, ScheduleError> {
        let service = systemd_service(job)?;
        let exec = systemd_exec(job)?;
        let timer = format!(
            "[Unit]\nDescription=核酸结果自动上报，每 {} 分钟\n\n[Timer]\nOnCalendar={}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
            job.every,
            on_calendar(job.every, start)
        );
        self.write(&self.unit_dir.join(format!("{UNIT}.service")), &service)?;
        self.write(&self.unit_dir.join(format!("{UNIT}.timer")), &timer)?;
        checked("systemctl", &["--user", "daemon-reload"], None)?;
        checked(
            "systemctl",
            &["--user", "enable", "--now", &format!("{UNIT}.timer")],
            None,
        )?;
        Ok(exec)
    }

    fn crontab(&self) -> Result<String, ScheduleError> {
        let (code, out, err) = run("crontab", &["-l".into()], None)?;
        if code == 0 {
            Ok(out)
        } else if err.to_lowercase().contains("no crontab") {
            Ok(String::new())
        } else {
            Err(ScheduleError::Program {
                program: "crontab -l".into(),
                detail: format!("退出码 {code}：{}", err.trim()),
                hint: "",
            })
        }
    }

    fn install_cron(&self, job: &Job, start: u32) -> Result<String, ScheduleError> {
        let log = self.data_dir.join("watch-cron.log");
        // Built (and refused) before the crontab is read or written.
        let line = cron_line(job, start, &log)?;
        let command = cron_command(job, &log)?;
        let mut table = self.without_ours(&self.crontab()?);
        table.push_str(&line);
        table.push('\n');
        checked("crontab", &["-"], Some(&table))?;
        Ok(command)
    }

    fn without_ours(&self, table: &str) -> String {
        table
            .lines()
            .filter(|l| !l.trim_end().ends_with(CRON_MARK))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn install_schtasks(&self, job: &Job, start: u32) -> Result<String, ScheduleError> {
        let xml = task_xml(job, start)?;
        let path = self.data_dir.join("schedule-task.xml");
        // UTF-16 with its byte order mark, as schtasks reads a task definition.
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
        crate::credentials::write_private(&path, &bytes).map_err(|e| ScheduleError::Io {
            path: path.clone(),
            detail: io_message(&e),
        })?;
        let file = path.to_string_lossy();
        checked(
            "schtasks",
            &["/Create", "/F", "/TN", TASK, "/XML", &file],
            None,
        )?;
        let mut words = vec![exe_shown(job)];
        words.extend(job.args());
        Ok(words.join(" "))
    }

    /// Removes the task; `false` when there was none.
    pub fn remove(&self) -> Result<bool, ScheduleError> {
        let had = match self.backend {
            Backend::Systemd => {
                let timer = self.unit_dir.join(format!("{UNIT}.timer"));
                let service = self.unit_dir.join(format!("{UNIT}.service"));
                let had = timer.exists() || service.exists();
                if had {
                    // Disabling a timer systemd no longer knows is not an error worth stopping for.
                    let _ = checked(
                        "systemctl",
                        &["--user", "disable", "--now", &format!("{UNIT}.timer")],
                        None,
                    );
                    for p in [&timer, &service] {
                        if p.exists() {
                            std::fs::remove_file(p).map_err(|e| ScheduleError::Io {
                                path: p.clone(),
                                detail: io_message(&e),
                            })?;
                        }
                    }
                    checked("systemctl", &["--user", "daemon-reload"], None)?;
                }
                had
            }
            Backend::Cron => {
                let table = self.crontab()?;
                let kept = self.without_ours(&table);
                let had = kept.len() != table.len();
                if had {
                    checked("crontab", &["-"], Some(&kept))?;
                }
                had
            }
            Backend::Schtasks => {
                let registered = self.registered()?;
                if registered {
                    checked("schtasks", &["/Delete", "/F", "/TN", TASK], None)?;
                }
                registered
            }
        };
        let record = self.record_path();
        if record.exists() {
            std::fs::remove_file(&record).map_err(|e| ScheduleError::Io {
                path: record.clone(),
                detail: io_message(&e),
            })?;
        }
        Ok(had)
    }

    /// Does the scheduler have the task?
    fn registered(&self) -> Result<bool, ScheduleError> {
        Ok(match self.backend {
            Backend::Systemd => {
                self.unit_dir.join(format!("{UNIT}.timer")).exists()
                    && matches!(
                        run(
                            "systemctl",
                            &[
                                "--user".into(),
                                "is-enabled".into(),
                                format!("{UNIT}.timer")
                            ],
                            None
                        )?,
                        (0, _, _)
                    )
            }
            Backend::Cron => self
                .crontab()?
                .lines()
                .any(|l| l.trim_end().ends_with(CRON_MARK)),
            Backend::Schtasks => {
                matches!(
                    run(
                        "schtasks",
                        &["/Query".into(), "/TN".into(), TASK.into()],
                        None
                    )?,
                    (0, _, _)
                )
            }
        })
    }

    /// Installed or not, the last run and the next.
    pub fn status(&self, now: chrono::NaiveDateTime) -> Result<Status, ScheduleError> {
        let installed: Option<Installed> = std::fs::read(self.record_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let registered = self.registered()?;
        let next_run = match (&installed, registered) {
            (Some(i), true) => Some(
                next_run(i.every, i.start, now)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            ),
            _ => None,
        };
        Ok(Status {
            installed,
            registered,
            last_run: super::watch::last_run(&self.data_dir),
            next_run,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 5, 1)
            .unwrap()
            .and_hms_opt(h, m, 30)
            .unwrap()
    }

    #[test]
    fn intervals_and_expressions() {
        for ok in [1, 5, 15, 30, 60, 120, 360, 1440] {
            check_every(ok).unwrap();
        }
        for bad in [0, 7, 45, 90, 100, 2880] {
            assert!(check_every(bad).is_err(), "{bad}");
        }
        assert_eq!(on_calendar(15, 7), "*-*-* *:07/15:00");
        assert_eq!(cron_time(15, 7), "7-59/15 * * * *");
        assert_eq!(on_calendar(60, 42), "*-*-* *:42:00");
        assert_eq!(cron_time(120, 75), "15 1-23/2 * * *");
        assert_eq!(on_calendar(120, 75), "*-*-* 01/2:15:00");
        assert_eq!(cron_time(1440, 600), "0 10 * * *");
        for _ in 0..50 {
            assert!(random_start(15) < 15);
        }
    }

    #[test]
    fn next_runs() {
        assert_eq!(
            next_run(15, 7, at(10, 7)),
            at(10, 22).with_second(0).unwrap()
        );
        assert_eq!(
            next_run(15, 7, at(10, 6)),
            at(10, 7).with_second(0).unwrap()
        );
        assert_eq!(
            next_run(15, 7, at(23, 55)),
            NaiveDate::from_ymd_opt(2026, 5, 2)
                .unwrap()
                .and_hms_opt(0, 7, 0)
                .unwrap()
        );
        assert_eq!(
            next_run(120, 75, at(2, 0)),
            at(3, 15).with_second(0).unwrap()
        );
    }

    use chrono::Timelike;

    #[test]
    fn quoting() {
        let f = Field::Folder;
        assert_eq!(
            systemd_word(&f, "a b%$\"c\t", true).unwrap(),
            "\"a b%%$$\\\"c\\x09\""
        );
        assert_eq!(systemd_word(&f, "$", false).unwrap(), "\"$\"");
        assert_eq!(cron_word(&f, "it's 100%").unwrap(), "'it'\\''s 100'\\%''");
        assert_eq!(
            windows_arg(&f, "C:\\Program Files\\").unwrap(),
            "\"C:\\Program Files\\\\\""
        );
        assert_eq!(windows_arg(&f, "a\\\"b").unwrap(), "\"a\\\\\\\"b\"");
        for refused in [
            cron_word(&f, "a\nb"),
            systemd_word(&f, "a\0", true),
            windows_arg(&f, "100%"),
        ] {
            let e = refused.unwrap_err();
            assert!(e.to_string().contains("要监视的文件夹"), "{e}");
        }
    }
}
