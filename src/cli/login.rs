//! `sheetbridge login --target T` / `--source S`: asks for the user name and password on the
//! terminal (the password without echo) and remembers them (target.md, "Credentials"). Also
//! where every command finds the credentials to use: the environment first, then the
//! remembered ones.

use super::{EXIT_OK, Failure, Run, say};
use clap::Args;
use sheetbridge::credentials::{Account, Store};
use sheetbridge::issue::Lang;
use sheetbridge::message::Localized;
use sheetbridge::unattended::source::{self, Source};
use sheetbridge::upload::client::Credentials;
use sheetbridge::upload::target::{Auth, Target};
use std::io::{BufRead, IsTerminal, Write};

#[derive(Args)]
pub struct LoginArgs {
    /// 记住这个上报目标（省平台）的登录信息
    #[arg(
        short = 't',
        long,
        required_unless_present = "source",
        conflicts_with = "source"
    )]
    pub target: Option<String>,
    /// 记住这个数据来源（城市系统）的登录信息
    #[arg(long)]
    pub source: Option<String>,
    /// 忘掉记住的登录信息
    #[arg(long)]
    pub forget: bool,
}

/// The store: `SHEETBRIDGE_CREDENTIAL_STORE=file` uses only `credentials.toml` (tests,
/// portable installs).
pub fn store() -> Store {
    let dir = super::config_dir();
    match std::env::var("SHEETBRIDGE_CREDENTIAL_STORE") {
        Ok(v) if v.eq_ignore_ascii_case("file") => Store::file_only(dir),
        _ => Store::new(dir),
    }
}

/// The credentials of `account` through the one lookup ([`super::credentials`]); a store that
/// cannot be read is said, and none are used.
fn found(account: &Account, lang: Lang) -> Credentials {
    super::credentials().find(account).unwrap_or_else(|e| {
        say(
            lang,
            format!("提醒：读不了记住的密码：{e}"),
            format!("warning: remembered credentials not read: {}", e.english()),
        );
        Credentials::default()
    })
}

/// The platform's credentials: `SHEETBRIDGE_USER` / `_PASSWORD` / `_TOKEN`, else remembered.
pub fn target_credentials(target: &Target, lang: Lang) -> Credentials {
    found(&Account::Target(target.reference.clone()), lang)
}

/// A source's credentials: `SHEETBRIDGE_SOURCE_USER` / `_SOURCE_PASSWORD` (else
/// `SHEETBRIDGE_USER` / `_PASSWORD`), else remembered.
pub fn source_credentials(source: &Source, lang: Lang) -> Credentials {
    found(&Account::Source(source.reference.clone()), lang)
}

/// The sources folder of the config folder.
pub fn sources_dir() -> Option<std::path::PathBuf> {
    source::user_dir(super::config_dir().as_deref())
}

fn ask(prompt: &str, secret: bool) -> std::io::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    if secret && stdin.is_terminal() {
        return rpassword::read_password();
    }
    // Not a terminal (a script pipes it in): one line from standard input.
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    eprintln!();
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn run(args: &LoginArgs, lang: Lang) -> Run {
    let zh = lang == Lang::Zh;
    let (account, auth, shown) = if let Some(t) = &args.target {
        let t = Target::find(t, super::targets_dir().as_deref())?;
        (Account::Target(t.reference.clone()), t.auth.clone(), t.name)
    } else {
        let name = args.source.as_deref().unwrap_or_default();
        let s = Source::find(name, sources_dir().as_deref())?;
        (
            Account::Source(s.reference.clone()),
            s.connection.auth.clone(),
            s.name,
        )
    };
    let store = store();
    if args.forget {
        store.forget(&account)?;
        say(
            lang,
            format!("已忘掉「{shown}」的登录信息。"),
            format!("forgot the credentials of {shown}"),
        );
        return Ok(EXIT_OK);
    }
    say(
        lang,
        format!("记住「{shown}」的登录信息（自动上报需要）。"),
        format!("remembering the credentials of {shown} (unattended runs need them)"),
    );
    let asked = (|| -> std::io::Result<Credentials> {
        if auth == Auth::Bearer {
            let token = ask(
                if zh {
                    "令牌（输入时不显示）："
                } else {
                    "token (not shown): "
                },
                true,
            )?;
            return Ok(Credentials {
                token: Some(token),
                ..Credentials::default()
            });
        }
        let user = ask(if zh { "用户名：" } else { "user name: " }, false)?;
        let password = ask(
            if zh {
                "密码（输入时不显示）："
            } else {
                "password (not shown): "
            },
            true,
        )?;
        Ok(Credentials {
            user: Some(user),
            password: Some(password),
            token: None,
        })
    })();
    let creds = asked.map_err(|e| {
        Failure::new(
            format!("读不到输入（{e}），没有记住任何内容。"),
            format!("cannot read the input ({e}); nothing remembered"),
        )
    })?;
    let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    let complete = given(&creds.token) || (given(&creds.user) && given(&creds.password));
    if !complete {
        return Err(Failure::new(
            "用户名和密码都不能为空，没有记住任何内容。",
            "empty user name or password; nothing remembered",
        ));
    }
    let stored = store.remember(&account, &creds)?;
    eprintln!("{}", super::console(&stored.text(lang)));
    Ok(EXIT_OK)
}
