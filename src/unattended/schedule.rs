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
            ScheduleError::Io { path, detail } => {
                let path = path.display();
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
    /// The arguments after the program.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "watch".to_owned(),
            self.folder.to_string_lossy().into_owned(),
            "--target".to_owned(),
            self.target.clone(),
            "--once".to_owned(),
        ];
        if let Some(s) = &self.source {
            a.push("--source".into());
            a.push(s.clone());
        }
        a
    }
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

/// The schtasks schedule arguments.
pub fn schtasks_schedule(every: u32, start: u32) -> Vec<String> {
    let st = format!("{:02}:{:02}", start / 60, start % 60);
    let (sc, mo) = if every < 60 {
        ("MINUTE", every)
    } else if every < 1440 {
        ("HOURLY", every / 60)
    } else {
        ("DAILY", 1)
    };
    vec![
        "/SC".into(),
        sc.into(),
        "/MO".into(),
        mo.to_string(),
        "/ST".into(),
        st,
    ]
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

/// systemd `ExecStart=` quoting: each word in double quotes; `\`, `"`, `%` and `$` escaped.
fn systemd_quote(word: &str) -> String {
    let mut s = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '%' => s.push_str("%%"),
            '$' => s.push_str("$$"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// sh quoting for a crontab line (where `%` is special too).
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''").replace('%', "\\%"))
}

/// Windows command-line quoting for `/TR`.
fn win_quote(word: &str) -> String {
    if !word.is_empty() && !word.contains([' ', '\t', '"']) {
        return word.to_owned();
    }
    format!("\"{}\"", word.replace('"', "\\\""))
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
        let mut exec = vec![systemd_quote(&job.exe.to_string_lossy())];
        exec.extend(job.args().iter().map(|a| systemd_quote(a)));
        let exec = exec.join(" ");
        let env: String = job
            .env
            .iter()
            .map(|(k, v)| format!("Environment={}\n", systemd_quote(&format!("{k}={v}"))))
            .collect();
        let service = format!(
            "[Unit]\nDescription=核酸结果自动上报（sheetbridge watch --once）\n\n[Service]\nType=oneshot\n{env}ExecStart={exec}\n"
        );
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
        let mut words: Vec<String> = job
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", sh_quote(v)))
            .collect();
        words.push(sh_quote(&job.exe.to_string_lossy()));
        words.extend(job.args().iter().map(|a| sh_quote(a)));
        let log = self.data_dir.join("watch-cron.log");
        let command = format!(
            "{} >> {} 2>&1",
            words.join(" "),
            sh_quote(&log.to_string_lossy())
        );
        let line = format!("{} {command} {CRON_MARK}", cron_time(job.every, start));
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
        let mut words = vec![win_quote(&job.exe.to_string_lossy())];
        words.extend(job.args().iter().map(|a| win_quote(a)));
        let command = words.join(" ");
        let mut args = vec!["/Create", "/F", "/TN", TASK, "/TR", &command];
        let sched = schtasks_schedule(job.every, start);
        args.extend(sched.iter().map(String::as_str));
        checked("schtasks", &args, None)?;
        Ok(command)
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
        assert_eq!(
            schtasks_schedule(15, 7),
            ["/SC", "MINUTE", "/MO", "15", "/ST", "00:07"]
        );
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
        assert_eq!(systemd_quote("a b%$\"c"), "\"a b%%$$\\\"c\"");
        assert_eq!(sh_quote("it's 100%"), "'it'\\''s 100\\%'");
        assert_eq!(
            win_quote("C:\\Program Files\\x.exe"),
            "\"C:\\Program Files\\x.exe\""
        );
        assert_eq!(win_quote("--once"), "--once");
    }
}
