//! guarantees.md §7. Every file read from outside is bounded.
//!
//! Each kind of file the program reads from outside (a pack, its signature, an entry in it, a
//! profile, a target, a source, a trusted keys file) is made just over its limit, and a random
//! amount over it (sparse files: set_len costs no disk), and must be refused naming the file
//! and the limit; a 2 GiB signature and a pack entry inflating to 512 MiB must be refused with
//! the program's peak memory under 256 MiB (`run_measured`, from wait4).

use crate::hostile::{bomb, stored, write_zip};
use crate::support::pack::{Signer, make_pack, profile_text};
use crate::support::{Run, run_measured, sheetbridge, tmp};
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// Peak memory allowed (guarantees.md §7), in KiB as ru_maxrss counts.
const MAX_RSS_KIB: i64 = 256 * 1024;

/// A file of `size` bytes that costs no disk: a hole, with `head` written at its start.
fn sparse(path: &Path, head: &[u8], size: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(size)
        .unwrap();
}

/// Sizes over `limit`: one byte over, and a random amount over (up to a mebibyte more).
fn overs(limit: u64, rng: &mut fastrand::Rng) -> [u64; 2] {
    [limit + 1, limit + rng.u64(2..=MIB)]
}

fn run(home: &Path, args: &[&str]) -> Run {
    sheetbridge(home, args)
        .env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
        .into()
}

#[track_caller]
fn refused(r: &Run, file: &str, limit: &str) {
    r.says(2, &[file, limit]);
    assert!(r.stderr.contains("上限"), "{}", r.stderr);
}

/// A small pack with a profile in it, signed with a key the home trusts.
fn signed_pack(home: &Path, signer: &Signer) -> PathBuf {
    signer.trust_in(home);
    let pack = home.join("规则.sbpack");
    make_pack(
        &pack,
        "省疾控",
        "2",
        &[("profiles/省疾控.toml", &profile_text("省疾控"))],
    );
    signer.sign(&pack);
    pack
}

#[test]
fn profiles_targets_and_sources_just_over_their_limit_are_refused_naming_them() {
    let mut rng = fastrand::Rng::with_seed(7);
    let home = tmp();
    let h = home.path();
    let input = h.join("in.xlsx");
    crate::support::write_xlsx(
        &input,
        &[crate::support::SheetSpec::new(
            "Sheet1",
            crate::support::simple_rows(3),
        )],
    );
    let input = input.to_str().unwrap();
    for size in overs(MIB, &mut rng) {
        // A profile given by its path; its first bytes are a real profile's.
        let profile = h.join("big-profile.toml");
        sparse(&profile, profile_text("大").as_bytes(), size);
        let r = run(h, &["check", input, "-p", profile.to_str().unwrap()]);
        refused(&r, "big-profile.toml", "1 MB");
        // A target and a source by name, in the config folder.
        let target = h.join("config/targets/big.toml");
        sparse(&target, b"name = \"big\"\n", size);
        refused(
            &run(h, &["upload", input, "--target", "big"]),
            "big.toml",
            "1 MB",
        );
        let source = h.join("config/sources/city.toml");
        sparse(&source, b"name = \"city\"\n", size);
        let out = h.join("out");
        let r = run(
            h,
            &["fetch", "--source", "city", "-o", out.to_str().unwrap()],
        );
        refused(&r, "city.toml", "1 MB");
        // The user's profile folder: one over its limit in place of a built-in one is an error
        // too, never the built-in profile instead.
        let folder = h.join("config/profiles/cdc-nat.toml");
        sparse(&folder, profile_text("大").as_bytes(), size);
        refused(&run(h, &["check", input]), "cdc-nat.toml", "1 MB");
        std::fs::remove_file(&folder).unwrap();
    }
}

#[test]
fn packs_signatures_entries_and_trusted_keys_just_over_their_limit_are_refused() {
    let mut rng = fastrand::Rng::with_seed(8);
    let signer = Signer::new();
    for size in overs(64 * MIB, &mut rng) {
        let home = tmp();
        let h = home.path();
        let pack = h.join("huge.sbpack");
        sparse(&pack, b"PK\x03\x04", size);
        sparse(
            &h.join("huge.sbpack.minisig"),
            b"untrusted comment: x\n",
            200,
        );
        let r = run(h, &["pack", "install", pack.to_str().unwrap()]);
        refused(&r, "huge.sbpack", "64 MB");
    }
    for size in overs(4 * KIB, &mut rng) {
        let home = tmp();
        let h = home.path();
        let pack = signed_pack(h, &signer);
        let sig = h.join("规则.sbpack.minisig");
        let real = std::fs::read(&sig).unwrap();
        sparse(&sig, &real, size);
        let r = run(h, &["pack", "install", pack.to_str().unwrap()]);
        refused(&r, "规则.sbpack.minisig", "4 KB");
    }
    for size in overs(MIB, &mut rng) {
        // The trusted keys file: its real key first, then a hole.
        let home = tmp();
        let h = home.path();
        let pack = signed_pack(h, &signer);
        let keys = h.join("config/trusted-keys.txt");
        let real = std::fs::read(&keys).unwrap();
        sparse(&keys, &real, size);
        let r = run(h, &["pack", "install", pack.to_str().unwrap()]);
        refused(&r, "trusted-keys.txt", "1 MB");
        // An entry just over its limit, in a pack that is otherwise good and signed.
        let home = tmp();
        let h = home.path();
        signer.trust_in(h);
        let pack = h.join("entry.sbpack");
        let mut text = profile_text("大").into_bytes();
        text.resize(size as usize, b'\n');
        write_zip(
            &pack,
            &[
                stored(
                    "pack.toml",
                    b"name = \"p\"\nversion = \"1\"\ndate = \"2026-11-28\"\nnotes = \"\"\n",
                ),
                stored("profiles/big.toml", &text),
            ],
        );
        signer.sign(&pack);
        let r = run(h, &["pack", "install", pack.to_str().unwrap()]);
        refused(&r, "profiles/big.toml", "1 MB");
        assert!(!h.join("config/profiles/big.toml").exists());
    }
}

#[cfg(unix)]
#[test]
fn a_2_gib_signature_and_an_entry_inflating_to_512_mib_stay_under_256_mib() {
    let home = tmp();
    let h = home.path();
    let signer = Signer::new();
    let pack = signed_pack(h, &signer);
    sparse(
        &h.join("规则.sbpack.minisig"),
        b"untrusted comment: x\n",
        2 << 30,
    );
    let m = run_measured(
        sheetbridge(h, &["pack", "install", pack.to_str().unwrap()]),
        6 << 30,
    );
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains("4 KB"), "{}", m.stderr);
    assert!(
        m.max_rss_kib < MAX_RSS_KIB,
        "peak {} MiB",
        m.max_rss_kib >> 10
    );

    let pack = h.join("bomb.sbpack");
    write_zip(
        &pack,
        &[
            stored(
                "pack.toml",
                b"name = \"p\"\nversion = \"1\"\ndate = \"2026-11-28\"\nnotes = \"\"\n",
            ),
            bomb("profiles/bomb.toml", b"# ", b"#", 512 * MIB, b"\n"),
        ],
    );
    let m = run_measured(
        sheetbridge(
            h,
            &[
                "pack",
                "install",
                "--allow-unsigned",
                pack.to_str().unwrap(),
            ],
        ),
        6 << 30,
    );
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(
        m.stderr.contains("profiles/bomb.toml") && m.stderr.contains("1 MB"),
        "{}",
        m.stderr
    );
    assert!(
        m.max_rss_kib < MAX_RSS_KIB,
        "peak {} MiB",
        m.max_rss_kib >> 10
    );
}
