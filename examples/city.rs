//! A stand-in city nucleic-acid testing system for trying `sheetbridge fetch` without one:
//! `cargo run --example city -- --port 8081`, then put the printed source file into
//! `sources/city.toml` under the config folder and run
//! `SHEETBRIDGE_SOURCE_USER=lab SHEETBRIDGE_SOURCE_PASSWORD=lab sheetbridge fetch --source city -o 待上报`.
//!
//! Switches: `--user U --password P` (default lab/lab), `--rows N` (rows of the sample served
//! first, default all), `--grow N` (rows added after each export). Listens on 127.0.0.1 only.

#[path = "../tests/support/sample.rs"]
#[allow(dead_code)]
mod sample;

#[path = "../tests/support/city.rs"]
#[allow(dead_code)]
mod city;

use std::sync::atomic::Ordering;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let (mut port, mut user, mut password) = (8081u16, "lab".to_owned(), "lab".to_owned());
    let (mut rows, mut grow) = (0usize, 0usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} needs a number, not {value}"))
        };
        match flag.as_str() {
            "--port" => port = number()? as u16,
            "--user" => user = value.clone(),
            "--password" => password = value.clone(),
            "--rows" => rows = number()?,
            "--grow" => grow = number()?,
            other => return Err(format!("unknown switch {other}")),
        }
    }
    let c = city::City::start(port, &user, &password).map_err(|e| e.to_string())?;
    c.switches().rows.store(rows, Ordering::SeqCst);
    c.switches().grow.store(grow, Ordering::SeqCst);
    println!(
        "stand-in city system on {} (user {user}); Ctrl+C stops it. A source file for it:\n\n{}",
        c.base_url(),
        c.source_toml("sample", "核酸结果_{date}.xlsx")
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
