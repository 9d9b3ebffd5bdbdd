//! The support engineer's kit (support.md): the program's log, the diagnostic bundle, signed
//! profile packs, and the ledger lookup, each through the binary as a clerk would run it.

use crate::support::platform::{Config, Platform};
use crate::support::{Run, SheetSpec, person, repo, simple_rows, tmp, write_xlsx};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

/// Runs the binary with its folders in `home` and the platform's credentials.
fn run(home: &Path, args: &[&str], extra: &[(&str, &Path)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
    c.args(args)
        .current_dir(home)
        .env("SHEETBRIDGE_CONFIG_DIR", home.join("config"))
        .env("SHEETBRIDGE_DATA_DIR", home.join("data"))
        .env("SHEETBRIDGE_USER", "demo")
        .env("SHEETBRIDGE_PASSWORD", "demo")
        .env("SHEETBRIDGE_MACHINE_KEYS", home.join("no-machine-keys.txt"))
        .env_remove("SHEETBRIDGE_TOKEN")
        .env_remove("SHEETBRIDGE_LANG")
        .env_remove("SHEETBRIDGE_LAB");
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn log_text(home: &Path) -> String {
    std::fs::read_to_string(home.join("data/logs/sheetbridge.log")).unwrap_or_default()
}

/// Every ID number, phone number and name of the first `n` people of `simple_rows`.
fn secrets(n: u32) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let row = person(i, "T");
        for col in [0, 2, 5] {
            let crate::support::V::T(text) = &row[col] else {
                panic!("column {col} is text")
            };
            out.push(text.clone());
        }
    }
    out
}

#[test]
fn a_command_writes_its_lines_to_the_log_masked() {
    let home = tmp();
    let h = home.path();
    let input = h.join("export.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(12))]);
    let r = run(h, &["convert", input.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A file named after an ID number that is not there: the error line masks the number.
    let missing = h.join("44010619900101123X.xlsx");
    let r = run(h, &["convert", missing.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    let log = log_text(h);
    let lines: Vec<&str> = log.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{log}"))
    };
    assert!(find("start: sheetbridge ").contains(env!("CARGO_PKG_VERSION")));
    let opened = find("opened: export.xlsx");
    assert!(
        opened.contains("profile cdc-nat") && opened.contains("12 rows, 12 ready"),
        "{opened}"
    );
    find("exported upload sheet: export_上报.xlsx (12 rows)");
    find("end: convert");
    let failed = find("open failed: 440106********123X.xlsx");
    assert!(failed.contains(" ERROR "), "{failed}");
    // Each line starts with its time and carries the version.
    for l in &lines {
        assert!(l.starts_with("20") && l.contains(" v0."), "{l}");
    }
    assert!(!log.contains("44010619900101123X"), "{log}");
    for s in secrets(12) {
        assert!(!log.contains(&s), "{s} in the log:\n{log}");
    }
}

/// Every entry of a zip: (name, text).
fn unzip(path: &Path) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (name, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

#[test]
fn the_bundle_of_a_run_with_failures_holds_no_person() {
    let home = tmp();
    let h = home.path();
    let platform = Platform::start(Config::new(&h.join("platform.sqlite"))).unwrap();
    std::fs::create_dir_all(h.join("config/targets")).unwrap();
    std::fs::create_dir_all(h.join("config/profiles")).unwrap();
    std::fs::write(
        h.join("config/targets/stand.toml"),
        platform.target_toml(true, 5, 10),
    )
    .unwrap();
    std::fs::write(
        h.join("config/settings.toml"),
        "lab = \"本院\"\nuser = \"clerk7\"\n",
    )
    .unwrap();
    let n = 30;
    let input = h.join("export.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(n))]);
    let r = run(h, &["convert", input.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Three batches: one refused by the platform, one met by a 503, one confirmed.
    platform.switches().reject.store(1, Ordering::SeqCst);
    platform.switches().fail_503.store(1, Ordering::SeqCst);
    let r = run(
        h,
        &["upload", input.to_str().unwrap(), "--target", "stand"],
        &[],
    );
    assert_eq!(r.code, 5, "a batch needs a person: {}", r.stderr);
    let list = run(h, &["outbox", "list"], &[]);
    let batches: Vec<(String, String)> = list
        .stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[3].to_owned())
        })
        .collect();
    assert_eq!(batches.len(), 3, "{}", list.stdout);
    let states: Vec<&str> = batches.iter().map(|b| b.1.as_str()).collect();
    assert!(
        states.contains(&"rejected") && states.contains(&"confirmed"),
        "{states:?}"
    );

    let out = h.join("bundle.zip");
    let r = run(h, &["diagnose", "-o", out.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let entries = unzip(&out);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    for want in [
        "about.txt",
        "outbox.txt",
        "log.txt",
        "history.txt",
        "targets/stand.toml",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let text = |name: &str| &entries.iter().find(|e| e.0 == name).unwrap().1;
    for (id, state) in &batches {
        assert!(
            text("outbox.txt")
                .lines()
                .any(|l| l.starts_with(id.as_str()) && l.contains(state.as_str())),
            "{id} {state} not in\n{}",
            text("outbox.txt")
        );
    }
    assert!(text("outbox.txt").contains("检测机构不在本省备案名单中"));
    let log = text("log.txt");
    for needle in [
        "opened: export.xlsx",
        "queued: batch",
        "send: batch",
        "Rejected",
        "Confirmed",
        "end: upload",
    ] {
        assert!(
            log.contains(needle),
            "{needle} not in the bundle's log:\n{log}"
        );
    }
    assert!(text("history.txt").contains("export.xlsx"));
    assert!(text("about.txt").contains(env!("CARGO_PKG_VERSION")));
    assert!(text("about.txt").contains("lab = \"本院\""));
    for (name, body) in &entries {
        for s in secrets(n) {
            assert!(!body.contains(&s), "{s} in {name}");
        }
        for secret in ["clerk7", "demo"] {
            assert!(!body.contains(secret), "{secret} in {name}:\n{body}");
        }
    }
    // Without -o, the bundle goes into the current folder under a dated name.
    let r = run(h, &["diagnose"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dated = crate::support::files_in(h)
        .into_iter()
        .find(|f| f.starts_with("sheetbridge-诊断-") && f.ends_with(".zip"));
    assert!(dated.is_some(), "{:?}", crate::support::files_in(h));
}

// ---- Profile packs -------------------------------------------------------------------------

pub(crate) struct Signer {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

impl Signer {
    pub(crate) fn new() -> Signer {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Signer {
            pk: kp.pk,
            sk: kp.sk,
        }
    }

    /// Makes the config folder under `home` trust this key (its `trusted-keys.txt`).
    pub(crate) fn trust_in(&self, home: &Path) {
        std::fs::create_dir_all(home.join("config")).unwrap();
        std::fs::write(
            home.join("config/trusted-keys.txt"),
            format!(
                "# 技术支持\nuntrusted comment: minisign public key\n{}\n",
                self.public()
            ),
        )
        .unwrap();
    }

    /// The public key line, as `minisign -G` prints it.
    fn public(&self) -> String {
        self.pk.to_base64()
    }

    pub(crate) fn sign(&self, pack: &Path) {
        let bytes = std::fs::read(pack).unwrap();
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            std::io::Cursor::new(bytes),
            None,
            None,
        )
        .unwrap();
        std::fs::write(pack_sig(pack), sig.to_string()).unwrap();
    }
}

fn pack_sig(pack: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", pack.display()))
}

pub(crate) fn profile_text(title: &str) -> String {
    std::fs::read_to_string(repo().join("mappings/cdc-nat.toml"))
        .unwrap()
        .replacen(
            "title = \"省疾控核酸检测结果上报\"",
            &format!("title = \"{title}\""),
            1,
        )
}

const TARGET: &str = "name = \"市平台\"\nbase_url = \"https://127.0.0.1:1\"\nmax_rows_per_file = 10\n[upload]\npath = \"/u\"\n";
const SOURCE: &str = "name = \"市核酸检测系统\"\nbase_url = \"https://127.0.0.1:1\"\n[export]\npath = \"/nat/export\"\nparams = { start = \"{date} 00:00:00\" }\nfile_name = \"city-{date}.xlsx\"\n";

/// Writes a pack: `pack.toml` plus the given entries.
pub(crate) fn make_pack(path: &Path, name: &str, version: &str, entries: &[(&str, &str)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("pack.toml", opts).unwrap();
    write!(
        zip,
        "name = \"{name}\"\nversion = \"{version}\"\ndate = \"2026-11-28\"\nnotes = \"测试包\"\n"
    )
    .unwrap();
    for (entry, text) in entries {
        zip.start_file(*entry, opts).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// Every file under the config folder with its contents (to see that a refusal changed none).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != ".lock" {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

struct PackHome {
    home: tempfile::TempDir,
    signer: Signer,
}

impl PackHome {
    /// A home whose config folder trusts `signer`'s key.
    fn new() -> PackHome {
        let home = tmp();
        let signer = Signer::new();
        signer.trust_in(home.path());
        PackHome { home, signer }
    }

    fn path(&self) -> &Path {
        self.home.path()
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.path(), args, &[])
    }

    fn install(&self, pack: &Path) -> Run {
        self.run(&["pack", "install", pack.to_str().unwrap()])
    }

    fn signed_pack(&self, file: &str, version: &str, title: &str) -> PathBuf {
        let p = self.path().join(file);
        make_pack(
            &p,
            "city",
            version,
            &[
                ("profiles/city.toml", &profile_text(title)),
                ("targets/city.toml", TARGET),
                ("sources/city.toml", SOURCE),
            ],
        );
        self.signer.sign(&p);
        p
    }

    fn config(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join("config").join(rel)).unwrap_or_default()
    }

    /// Installing `pack` is refused naming `check`, and no file of the config folder changes.
    fn refused(&self, pack: &Path, check: &str) {
        let before = snapshot(&self.path().join("config"));
        let r = self.install(pack);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(check), "{check} not in: {}", r.stderr);
        assert!(r.stderr.contains("技术支持"), "{}", r.stderr);
        assert_eq!(
            snapshot(&self.path().join("config")),
            before,
            "a refused pack changed files"
        );
    }
}

#[test]
fn a_signed_pack_installs_and_rolls_back() {
    let h = PackHome::new();
    // The clerk's own profile of the same name is kept for rollback.
    std::fs::create_dir_all(h.path().join("config/profiles")).unwrap();
    std::fs::write(
        h.path().join("config/profiles/city.toml"),
        profile_text("本地版"),
    )
    .unwrap();
    let v1 = h.signed_pack("city-1.sbpack", "1.0", "城市版一");
    let r = h.install(&v1);
    r.says(0, &["1.0"]);
    assert!(h.config("profiles/city.toml").contains("城市版一"));
    assert_eq!(h.config("targets/city.toml"), TARGET);
    assert_eq!(h.config("sources/city.toml"), SOURCE);
    assert!(
        h.config("previous/city-0/profiles/city.toml")
            .contains("本地版")
    );
    // The installed profile is one the program loads.
    let profiles = h.run(&["profiles"]);
    assert!(profiles.stdout.contains("城市版一"), "{}", profiles.stdout);

    let v2 = h.signed_pack("city-2.sbpack", "1.1", "城市版二");
    let r = h.install(&v2);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(h.config("profiles/city.toml").contains("城市版二"));
    assert!(
        h.config("previous/city-1.0/profiles/city.toml")
            .contains("城市版一")
    );
    let list = h.run(&["pack", "list"]);
    assert!(
        list.stdout.starts_with("city\t1.1\t2026-11-28"),
        "{}",
        list.stdout
    );

    let r = h.run(&["pack", "rollback", "city"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(h.config("profiles/city.toml").contains("城市版一"));
    assert!(h.run(&["pack", "list"]).stdout.starts_with("city\t1.0\t"));
    let r = h.run(&["pack", "rollback", "city"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(h.config("profiles/city.toml").contains("本地版"));
    assert!(!h.path().join("config/targets/city.toml").exists());
    assert_eq!(h.run(&["pack", "list"]).stdout, "");
    let r = h.run(&["pack", "rollback", "city"]);
    r.says(2, &["没有安装"]);
    let log = log_text(h.path());
    assert!(log.contains("pack installed: city 1.1 (was 1.0)"), "{log}");
}

#[test]
fn a_bad_pack_is_refused_naming_the_check() {
    let h = PackHome::new();
    let good = h.signed_pack("city-2.sbpack", "2.0", "城市版二");
    assert_eq!(h.install(&good).code, 0);
    assert!(h.config("profiles/city.toml").contains("城市版二"));

    // One byte changed after signing.
    let changed = h.signed_pack("changed.sbpack", "3.0", "城市版三");
    let mut bytes = std::fs::read(&changed).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&changed, bytes).unwrap();
    h.refused(&changed, "签名校验");

    // Signed by a key nobody trusts.
    let stranger = Signer::new();
    let untrusted = h.path().join("untrusted.sbpack");
    make_pack(&untrusted, "city", "3.0", &[("targets/city.toml", TARGET)]);
    stranger.sign(&untrusted);
    h.refused(&untrusted, "受信任的密钥");

    // No signature.
    let unsigned = h.path().join("unsigned.sbpack");
    make_pack(&unsigned, "city", "3.0", &[("targets/city.toml", TARGET)]);
    h.refused(&unsigned, "签名");
    assert!(!pack_sig(&unsigned).exists());

    // Older than (or as old as) the installed one.
    let older = h.signed_pack("older.sbpack", "1.5", "旧版");
    h.refused(&older, "版本");
    let same = h.signed_pack("same.sbpack", "2.0", "同版");
    h.refused(&same, "版本");

    // A broken profile inside: the whole pack is refused, naming the file.
    let broken = h.path().join("broken.sbpack");
    make_pack(
        &broken,
        "city",
        "3.0",
        &[
            ("targets/city.toml", TARGET),
            ("profiles/city.toml", "title = \"坏的\"\n[roles\nid = 1\n"),
        ],
    );
    h.signer.sign(&broken);
    h.refused(&broken, "profiles/city.toml");
    assert!(h.install(&broken).stderr.contains("文件内容"));

    // A city-system source that is valid TOML but not a source: checked by the source loader.
    let bad_source = h.path().join("bad-source.sbpack");
    make_pack(
        &bad_source,
        "city",
        "3.0",
        &[
            ("targets/city.toml", TARGET),
            ("sources/city.toml", "title = \"市平台\"\n"),
        ],
    );
    h.signer.sign(&bad_source);
    h.refused(&bad_source, "sources/city.toml");
    assert!(h.install(&bad_source).stderr.contains("[export]"));

    // A path that escapes the config folder.
    for escape in ["../evil.toml", "profiles/../../evil.toml", "/tmp/evil.toml"] {
        let p = h.path().join("escape.sbpack");
        make_pack(&p, "city", "3.0", &[(escape, TARGET)]);
        h.signer.sign(&p);
        h.refused(&p, "文件路径");
    }
    assert!(!h.path().join("evil.toml").exists());

    // --allow-unsigned is the engineer's way to test a pack.
    let r = h.run(&[
        "pack",
        "install",
        unsigned.to_str().unwrap(),
        "--allow-unsigned",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_key_in_the_machine_wide_file_is_trusted() {
    let home = tmp();
    let h = home.path();
    let signer = Signer::new();
    let machine = h.join("etc/trusted-keys.txt");
    std::fs::create_dir_all(machine.parent().unwrap()).unwrap();
    std::fs::write(&machine, format!("{}\n", signer.public())).unwrap();
    let pack = h.join("city.sbpack");
    make_pack(&pack, "city", "1.0", &[("targets/city.toml", TARGET)]);
    signer.sign(&pack);
    let args = ["pack", "install", pack.to_str().unwrap()];
    let r = run(h, &args, &[]);
    r.says(2, &["受信任的密钥"]);
    let r = run(h, &args, &[("SHEETBRIDGE_MACHINE_KEYS", &machine)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(h.join("config/targets/city.toml")).unwrap(),
        TARGET
    );
}

// ---- The ledger lookup ---------------------------------------------------------------------

/// A home whose upload of `n` people went to the stand-in (10 rows a batch); the first batch
/// met a 503 and is still queued.
fn uploaded(n: u32) -> (tempfile::TempDir, Platform) {
    let home = tmp();
    let h = home.path();
    let platform = Platform::start(Config::new(&h.join("platform.sqlite"))).unwrap();
    std::fs::create_dir_all(h.join("config/targets")).unwrap();
    std::fs::write(
        h.join("config/targets/stand.toml"),
        platform.target_toml(true, 5, 10),
    )
    .unwrap();
    let input = h.join("今天的导出.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(n))]);
    platform.switches().fail_503.store(1, Ordering::SeqCst);
    let r = run(
        h,
        &["upload", input.to_str().unwrap(), "--target", "stand"],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    (home, platform)
}

/// The ID number of person `i` of `simple_rows`.
fn id_of(i: u32) -> String {
    match &person(i, "T")[2] {
        crate::support::V::T(id) => id.clone(),
        _ => unreachable!(),
    }
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' | 'A'..='Z' | 'a'..='z' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            c => c,
        })
        .collect()
}

#[test]
fn lookup_finds_a_person_by_id_or_barcode() {
    let (home, _platform) = uploaded(30);
    let h = home.path();
    let lookup = |v: &str| {
        let r = run(h, &["lookup", v], &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    // People 0-9 are in the first batch (still queued after the 503); 10-29 were confirmed.
    let confirmed = lookup(&id_of(12));
    assert!(confirmed.contains("已上报"), "{confirmed}");
    assert!(confirmed.contains("目标「演示平台」"), "{confirmed}");
    assert!(
        confirmed.contains("来自文件「今天的导出.xlsx」"),
        "{confirmed}"
    );
    assert!(
        !confirmed.contains(&id_of(12)),
        "the ID is shown masked: {confirmed}"
    );
    let queued = lookup(&id_of(3));
    assert!(
        queued.contains("还没有上报完成") && queued.contains("排队中"),
        "{queued}"
    );
    // The batch named is the one `outbox list` shows.
    let list = run(h, &["outbox", "list"], &[]).stdout;
    let batch = confirmed
        .split("批次 ")
        .nth(1)
        .unwrap()
        .split('，')
        .next()
        .unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with(batch) && l.contains("confirmed")),
        "{list}"
    );

    // With a lower-case x, and in full-width digits.
    let with_x = (10..30)
        .map(id_of)
        .find(|id| id.ends_with('X'))
        .expect("an ID ending in X");
    assert!(lookup(&with_x.to_lowercase()).contains("已上报"));
    assert!(lookup(&full_width(&id_of(15))).contains("已上报"));
    // By barcode: person 20's tube (10 people a tube).
    let by_barcode = lookup("T0000000002");
    assert!(by_barcode.contains("已上报"), "{by_barcode}");
    // Someone never uploaded, and a barcode never seen.
    for other in [id_of(40), "T9999999999".to_owned()] {
        let none = lookup(&other);
        assert!(none.contains("没有记录"), "{none}");
    }
}

#[test]
fn the_window_looks_up_an_upload() {
    use eframe::egui;
    use egui_kittest::kittest::Queryable;
    let (home, _platform) = uploaded(20);
    let h = home.path();
    let dirs = sheetbridge::app::Dirs {
        config: Some(h.join("config")),
        data: Some(h.join("data")),
    };
    let app = sheetbridge::app::App::new(&egui::Context::default(), dirs);
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1366.0, 768.0))
        .with_context_setup(sheetbridge::app::fonts::install)
        .build_ui_state(|ui, app: &mut sheetbridge::app::App| app.show(ui), app);
    harness.run_steps(2);
    harness.get_by_label("查询上报记录").click();
    harness.run_steps(5);
    assert!(harness.state().ui.lookup.open, "the lookup window opens");
    // The cursor is in the search box (daily.md): the clerk types at once.
    assert!(
        harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码、条码号或姓名")
            .is_focused(),
        "the search box has the cursor when the lookup opens"
    );
    let ask = |harness: &mut egui_kittest::Harness<'_, sheetbridge::app::App>, value: &str| {
        let field = harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码、条码号或姓名");
        field.focus();
        harness.run_steps(1);
        harness.state_mut().ui.lookup.value.clear();
        harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码、条码号或姓名")
            .type_text(value);
        harness.run_steps(2);
        harness.get_by_label("查询").click();
        for _ in 0..2000 {
            harness.step();
            if !harness.state().ui.lookup.busy() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        harness.run_steps(2);
    };
    ask(&mut harness, &id_of(15).to_lowercase());
    harness.get_by_label_contains("已上报");
    harness.get_by_label_contains("来自文件「今天的导出.xlsx」");
    ask(&mut harness, &id_of(40));
    harness.get_by_label_contains("没有记录");
    assert!(harness.query_by_label_contains("已上报").is_none());
}
