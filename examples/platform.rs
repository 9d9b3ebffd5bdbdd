//! A stand-in provincial platform for trying uploads without a VPN:
//! `cargo run --example platform -- --port 8080`, then
//! `SHEETBRIDGE_USER=demo SHEETBRIDGE_PASSWORD=demo sheetbridge upload 上报.xlsx --target platform`.
//!
//! Switches: `--user U --password P` (default demo/demo), `--db FILE` (default
//! platform.sqlite), `--fail-503 N`, `--delay-ms MS`, `--drop-after-body N`,
//! `--late-answers N --late-ms MS`, `--refuse-login`, `--reject N`. Listens on 127.0.0.1 only.

#[path = "../tests/support/platform.rs"]
#[allow(dead_code)]
mod platform;

use std::sync::atomic::Ordering;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut config = platform::Config::new(std::path::Path::new("platform.sqlite"));
    config.port = 8080;
    let mut switches: Vec<(String, u64)> = Vec::new();
    let mut refuse_login = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--refuse-login" {
            refuse_login = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} needs a number, not {value}"))
        };
        match flag.as_str() {
            "--port" => config.port = number()? as u16,
            "--user" => config.user = value.clone(),
            "--password" => config.password = value.clone(),
            "--db" => config.db = value.clone().into(),
            "--fail-503" | "--delay-ms" | "--drop-after-body" | "--late-answers" | "--late-ms"
            | "--reject" => switches.push((flag.clone(), number()?)),
            other => return Err(format!("unknown switch {other}")),
        }
    }
    let p = platform::Platform::start(config.clone()).map_err(|e| e.to_string())?;
    let sw = p.switches();
    for (flag, n) in switches {
        let n32 = n as u32;
        match flag.as_str() {
            "--fail-503" => sw.fail_503.store(n32, Ordering::SeqCst),
            "--delay-ms" => sw.delay_ms.store(n, Ordering::SeqCst),
            "--drop-after-body" => sw.drop_after_body.store(n32, Ordering::SeqCst),
            "--late-answers" => sw.late_answers.store(n32, Ordering::SeqCst),
            "--late-ms" => sw.late_ms.store(n, Ordering::SeqCst),
            _ => sw.reject.store(n32, Ordering::SeqCst),
        }
    }
    sw.refuse_login.store(refuse_login, Ordering::SeqCst);
    println!(
        "stand-in platform on {} (user {}, rows stored in {}); Ctrl+C stops it",
        p.base_url(),
        config.user,
        config.db.to_string_lossy()
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
