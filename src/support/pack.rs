//! Profile packs (support.md): the support engineer's signed `.sbpack` updates every clerk's
//! profiles, targets and sources without a release.
//!
//! A pack is a zip of `pack.toml` (`name`, `version`, `date`, `notes`) and any of
//! `profiles/*.toml`, `targets/*.toml`, `sources/*.toml`, signed with minisign beside it
//! (`FILE.sbpack.minisig`). [`install`] checks, in this order: the signature against the
//! trusted keys, every entry's path, `pack.toml`, the version against the installed one, and
//! every file with the program's own loaders; only then does it touch the config folder. The
//! files a pack replaces are kept in `previous/<name>-<old version>/`, and `packs/<name>.toml`
//! records what is installed, so [`rollback`] can put the previous version back.
// Over 600 lines: checking, installing and rolling back a pack are one sequence of steps over
// the same files and locks (see above); split, the order of the checks would be harder to see.

use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::profile::{Origin, Profile};
use crate::upload::target::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folders a pack may put files in.
pub const KINDS: [&str; 3] = ["profiles", "targets", "sources"];
/// The trusted keys file's name (config folder, and the machine-wide one).
pub const TRUSTED_KEYS: &str = "trusted-keys.txt";
// A pack holds small text files: it is refused past 64 MiB, its signature past 4 KiB, each
// entry past 1 MiB decompressed (crate::bounded), and all its entries together past 64 MiB.
use crate::bounded::{self, BoundedError};
/// A pack of more entries than this is refused before they are read.
const MAX_ENTRIES: usize = 10_000;
/// What the installed-packs folder and the backups are called in the config folder.
const PACKS_DIR: &str = "packs";
const PREVIOUS_DIR: &str = "previous";
/// The version recorded for files a first install replaced (there was no pack before).
const BEFORE: &str = "0";

/// Where packs go and which keys are trusted: the front end says.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The user's config folder: files are installed in its `profiles/`, `targets/`, `sources/`.
    pub config: PathBuf,
    /// The trusted keys files, e.g. the config folder's and the machine-wide one; a missing
    /// file holds no key.
    pub trusted_keys: Vec<PathBuf>,
    /// `--allow-unsigned` (the command line only, for the engineer's own testing).
    pub allow_unsigned: bool,
}

impl PackOptions {
    /// The config folder's `trusted-keys.txt` plus the machine-wide file, if any.
    pub fn new(config: &Path, machine_keys: Option<PathBuf>) -> PackOptions {
        let mut trusted_keys = vec![config.join(TRUSTED_KEYS)];
        trusted_keys.extend(machine_keys);
        PackOptions {
            config: config.to_owned(),
            trusted_keys,
            allow_unsigned: false,
        }
    }
}

/// Why a pack was refused or a rollback could not be done. Every refusal names the check.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum PackError {
    Read {
        path: PathBuf,
        detail: String,
    },
    /// The pack, its signature, one of its entries or a trusted keys file is over its limit,
    /// or could not be read.
    Bounded(#[from] BoundedError),
    Unsigned {
        sig: PathBuf,
    },
    Untrusted,
    BadSignature,
    BadPath {
        entry: String,
        detail: String,
    },
    BadManifest {
        detail: String,
    },
    Older {
        name: String,
        version: String,
        installed: String,
    },
    BadFile {
        detail: String,
    },
    Install {
        detail: String,
    },
    NotInstalled {
        name: String,
    },
    NoPrevious {
        name: String,
    },
}

impl Localized for PackError {
    fn message(&self) -> Text {
        match self {
            PackError::Bounded(e) => {
                let m = e.message();
                Text::new(format!("{}。请向技术支持要一个新的模板包。", m.zh), m.en)
            }
            PackError::Read { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法读取模板包「{path}」：{detail}"),
                    format!("cannot read {path}: {detail}"),
                )
            }
            PackError::Unsigned { sig } => {
                let sig = crate::paths::shown(sig);
                Text::new(
                    format!(
                        "模板包没有签名（检查：签名）：找不到「{sig}」。请向技术支持要一个新的模板包（连同它的 .minisig 签名文件）。"
                    ),
                    format!("refused (check: signature): no signature {sig}"),
                )
            }
            PackError::Untrusted => Text::new(
                "模板包的签名不是受信任的密钥签的（检查：受信任的密钥）。请向技术支持要一个新的模板包，或请信息科把技术支持的公钥放进 trusted-keys.txt。",
                "refused (check: trusted key): not signed by a trusted key",
            ),
            PackError::BadSignature => Text::new(
                "模板包的签名不对（检查：签名校验），文件可能被改动或损坏。请向技术支持要一个新的模板包。",
                "refused (check: signature verification): the pack was changed or damaged",
            ),
            PackError::BadPath { entry, detail } => Text::new(
                format!(
                    "模板包里的「{entry}」不合规定（检查：文件路径）：{detail}。请向技术支持要一个新的模板包。"
                ),
                format!("refused (check: file path): {entry}: {detail}"),
            ),
            PackError::BadManifest { detail } => Text::new(
                format!(
                    "模板包的 pack.toml 有问题（检查：包信息）：{detail}。请向技术支持要一个新的模板包。"
                ),
                format!("refused (check: pack.toml): {detail}"),
            ),
            PackError::Older {
                name,
                version,
                installed,
            } => Text::new(
                format!(
                    "模板包「{name}」的版本 {version} 不比已安装的 {installed} 新（检查：版本），没有安装。请向技术支持要最新的模板包。"
                ),
                format!(
                    "refused (check: version): {name} {version} is not newer than the installed {installed}"
                ),
            ),
            PackError::BadFile { detail } => Text::new(
                format!(
                    "模板包里的文件读不了（检查：文件内容）：{detail}。整个包没有安装。请向技术支持要一个新的模板包。"
                ),
                format!("refused (check: file contents): {detail}; nothing installed"),
            ),
            PackError::Install { detail } => Text::new(
                format!("安装模板包时出错：{detail}。已安装的文件没有改动。"),
                format!("install failed: {detail}; the installed files are unchanged"),
            ),
            PackError::NotInstalled { name } => {
                let name = crate::paths::for_line(name);
                Text::new(
                    format!(
                        "没有安装名为「{name}」的模板包。用 sheetbridge pack list 查看已安装的模板包。"
                    ),
                    format!("no installed pack {name}"),
                )
            }
            PackError::NoPrevious { name } => Text::new(
                format!("模板包「{name}」没有可以退回的上一个版本。"),
                format!("pack {name} has no previous version"),
            ),
        }
    }
}

/// `pack.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub notes: String,
}

/// What `packs/<name>.toml` records of an installed pack.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct InstalledPack {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub notes: String,
    /// When it was installed (local time).
    #[serde(default)]
    pub installed: String,
    /// Its files, relative to the config folder (`profiles/a.toml`).
    #[serde(default)]
    pub files: Vec<String>,
    /// The version it replaced (`0`: none), whose files are in `previous/<name>-<version>/`.
    #[serde(default)]
    pub previous: Option<String>,
}

/// A pack read, verified and checked: ready to install.
#[derive(Debug, Clone)]
pub struct Checked {
    pub manifest: Manifest,
    /// Relative path (`profiles/a.toml`) -> contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Whether it was verified against a trusted key (`false` only with `allow_unsigned`).
    pub signed: bool,
}

/// Where the machine-wide trusted keys are: `/etc/sheetbridge/trusted-keys.txt` on Linux and
/// other Unix systems; beside the installed program (`exe`) on Windows.
pub fn machine_keys(exe: Option<&Path>) -> Option<PathBuf> {
    if cfg!(windows) {
        exe.and_then(Path::parent).map(|d| d.join(TRUSTED_KEYS))
    } else {
        Some(PathBuf::from("/etc/sheetbridge").join(TRUSTED_KEYS))
    }
}

/// The signature file of a pack: `FILE.sbpack.minisig`.
pub fn signature_path(pack: &Path) -> PathBuf {
    let mut s = pack.as_os_str().to_owned();
    s.push(".minisig");
    PathBuf::from(s)
}

/// The trusted public keys: one per line (as `minisign -G` prints it, base64); blank lines,
/// `#` comments and minisign's `untrusted comment:` lines are skipped, as are missing files.
/// A file over [`bounded::TEXT_FILE`], or unreadable, is refused.
pub fn trusted_keys(files: &[PathBuf]) -> Result<Vec<minisign_verify::PublicKey>, BoundedError> {
    let mut keys = Vec::new();
    for f in files {
        let text = match bounded::read(f, bounded::TEXT_FILE) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with("untrusted comment:") {
                continue;
            }
            if let Ok(k) = minisign_verify::PublicKey::from_base64(line) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// Reads and checks a pack without installing anything: the signature, the paths, `pack.toml`,
/// the version, and every file with the program's loaders.
pub fn check(pack: &Path, opts: &PackOptions) -> Result<Checked, PackError> {
    let bytes = bounded::read(pack, bounded::PACK)?;
    let signed = verify(pack, &bytes, opts)?;
    let files = entries(pack, &bytes)?;
    let manifest_text = files
        .get("pack.toml")
        .ok_or_else(|| PackError::BadManifest {
            detail: "包里没有 pack.toml".into(),
        })?;
    let manifest = manifest(manifest_text)?;
    if let Some(current) = installed_pack(&opts.config, &manifest.name)
        && compare_versions(&manifest.version, &current.version) != std::cmp::Ordering::Greater
    {
        return Err(PackError::Older {
            name: manifest.name,
            version: manifest.version,
            installed: current.version,
        });
    }
    let mut files = files;
    files.remove("pack.toml");
    for (rel, data) in &files {
        load_file(&opts.config, rel, data)?;
    }
    Ok(Checked {
        manifest,
        files,
        signed,
    })
}

/// The signature check: `true` when verified, `false` when unsigned and that is allowed.
fn verify(pack: &Path, bytes: &[u8], opts: &PackOptions) -> Result<bool, PackError> {
    let sig_path = signature_path(pack);
    let sig_text = match bounded::read(&sig_path, bounded::SIGNATURE) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e @ BoundedError::TooLarge { .. }) => return Err(e.into()),
        Err(_) if opts.allow_unsigned => return Ok(false),
        Err(_) => return Err(PackError::Unsigned { sig: sig_path }),
    };
    let sig = minisign_verify::Signature::decode(&sig_text).map_err(|_| PackError::BadSignature)?;
    let mut key_matched = false;
    for key in trusted_keys(&opts.trusted_keys)? {
        match key.verify(bytes, &sig, false) {
            Ok(()) => return Ok(true),
            Err(minisign_verify::Error::UnexpectedKeyId) => {}
            Err(_) => key_matched = true,
        }
    }
    Err(if key_matched {
        PackError::BadSignature
    } else {
        PackError::Untrusted
    })
}

/// Every file entry of the zip, by checked relative path.
fn entries(pack: &Path, bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, PackError> {
    let bad_zip = |e: zip::result::ZipError| PackError::BadFile {
        detail: format!("不是有效的模板包（zip）：{e}"),
    };
    if zip_entries(bytes) > MAX_ENTRIES {
        return Err(PackError::BadFile {
            detail: format!("包里的文件多于 {MAX_ENTRIES} 个"),
        });
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad_zip)?;
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(bad_zip)?;
        let raw = f.name().map_err(bad_zip)?.into_owned();
        if f.is_dir() {
            continue;
        }
        let rel = entry_path(&raw)?;
        let name = format!("{}: {rel}", crate::paths::shown(pack));
        let data = bounded::read_entry(&mut f, &name, bounded::PACK_ENTRY)?;
        total += data.len() as u64;
        if total > bounded::PACK {
            return Err(BoundedError::TooLarge {
                name: format!("{}（解压后）", crate::paths::shown(pack)),
                size: None,
                limit: bounded::PACK,
            }
            .into());
        }
        if out.insert(rel.clone(), data).is_some() {
            return Err(PackError::BadPath {
                entry: raw,
                detail: "同一个文件出现了两次".into(),
            });
        }
    }
    Ok(out)
}

/// How many entries the zip's end of central directory record says it has (0 when none is
/// found: the zip reader then refuses it), read before the central directory is parsed, so a
/// pack of a million empty entries is refused without holding them all.
fn zip_entries(bytes: &[u8]) -> usize {
    // The record is 22 bytes plus a comment of up to 65,535, at the very end.
    let from = bytes.len().saturating_sub(22 + 65_535);
    let tail = &bytes[from..];
    let Some(at) = tail.windows(4).rposition(|w| w == [0x50, 0x4b, 0x05, 0x06]) else {
        return 0;
    };
    let field = |o: usize| {
        tail.get(at + o..at + o + 2)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    // 0xFFFF: the count is in the zip64 record; count the central directory's headers instead.
    match field(10) {
        0xffff => bytes
            .windows(4)
            .filter(|w| *w == [0x50, 0x4b, 0x01, 0x02])
            .count(),
        n => n,
    }
}

/// Checks one entry's path: `pack.toml`, or `<kind>/<file>.toml` with a plain file name.
fn entry_path(raw: &str) -> Result<String, PackError> {
    let bad = |detail: &str| PackError::BadPath {
        entry: raw.to_owned(),
        detail: detail.to_owned(),
    };
    if raw.contains('\\') || raw.starts_with('/') || raw.contains(':') || raw.contains('\0') {
        return Err(bad("路径跑出了配置文件夹"));
    }
    let parts: Vec<&str> = raw.split('/').collect();
    if parts
        .iter()
        .any(|p| *p == ".." || *p == "." || p.is_empty())
    {
        return Err(bad("路径跑出了配置文件夹"));
    }
    match parts.as_slice() {
        ["pack.toml"] => Ok(raw.to_owned()),
        [kind, file] if KINDS.contains(kind) => {
            let stem = file.strip_suffix(".toml").unwrap_or("");
            if stem.is_empty() || stem.starts_with('.') {
                return Err(bad("只能是 .toml 文件"));
            }
            Ok(raw.to_owned())
        }
        _ => Err(bad(
            "只能放 pack.toml 和 profiles/、targets/、sources/ 里的 .toml 文件",
        )),
    }
}

fn manifest(data: &[u8]) -> Result<Manifest, PackError> {
    let bad = |detail: String| PackError::BadManifest { detail };
    let text = std::str::from_utf8(data).map_err(|_| bad("不是 UTF-8 文本".into()))?;
    let m: Manifest = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
    let name_ok = !m.name.is_empty()
        && m.name.chars().count() <= 64
        && m.name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'));
    if !name_ok {
        return Err(bad(format!(
            "name「{}」只能用字母、数字、汉字、- 和 _",
            m.name
        )));
    }
    if parse_version(&m.version).is_none() {
        return Err(bad(format!(
            "version「{}」应是用点分隔的数字，例如 1.2.0",
            m.version
        )));
    }
    Ok(m)
}

fn parse_version(v: &str) -> Option<Vec<u64>> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    v.split('.').map(|p| p.parse::<u64>().ok()).collect()
}

/// Compares dotted numeric versions (`1.10` > `1.9`; `1.0` == `1.0.0`); an unreadable one is
/// the oldest.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (parse_version(a), parse_version(b)) {
        (Some(mut x), Some(mut y)) => {
            let n = x.len().max(y.len());
            x.resize(n, 0);
            y.resize(n, 0);
            x.cmp(&y)
        }
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// Loads one file of a pack exactly as the program would load it once installed.
fn load_file(config: &Path, rel: &str, data: &[u8]) -> Result<(), PackError> {
    let shown = format!("模板包里的 {rel}");
    let text = std::str::from_utf8(data).map_err(|_| PackError::BadFile {
        detail: format!("{shown} 不是 UTF-8 文本"),
    })?;
    let (kind, file) = rel.split_once('/').unwrap_or(("", rel));
    let stem = file.strip_suffix(".toml").unwrap_or(file);
    let installed_at = config.join(rel);
    let result = match kind {
        "profiles" => Profile::parse(stem, text, Origin::File(PathBuf::from(&shown)))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "targets" => Target::parse(stem, &shown, text, installed_at.parent())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => crate::unattended::source::Source::parse(stem, &shown, text, installed_at.parent())
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    // The loaders' messages end a sentence; the pack's message goes on after it.
    result.map_err(|detail| PackError::BadFile {
        detail: detail.trim_end_matches('。').to_owned(),
    })
}

fn packs_dir(config: &Path) -> PathBuf {
    config.join(PACKS_DIR)
}

fn installed_pack(config: &Path, name: &str) -> Option<InstalledPack> {
    let path = packs_dir(config).join(format!("{name}.toml"));
    let text = bounded::read_to_string(&path, bounded::TEXT_FILE).ok()?;
    toml::from_str(&text).ok()
}

/// The installed packs, by name.
pub fn installed(config: &Path) -> Vec<InstalledPack> {
    let Ok(entries) = std::fs::read_dir(packs_dir(config)) else {
        return Vec::new();
    };
    let mut out: Vec<InstalledPack> = entries
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "toml") {
                return None;
            }
            toml::from_str(&bounded::read_to_string(&p, bounded::TEXT_FILE).ok()?).ok()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Takes the config folder's pack lock (one install or rollback at a time, across processes).
fn lock(config: &Path) -> Result<std::fs::File, PackError> {
    let dir = packs_dir(config);
    let io = |e: std::io::Error| PackError::Install {
        detail: io_message(&e),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
        .map_err(io)?;
    f.lock().map_err(io)?;
    Ok(f)
}

/// Checks a pack, then installs all of its files at once. Returns what is now installed.
pub fn install(pack: &Path, opts: &PackOptions) -> Result<InstalledPack, PackError> {
    let _lock = lock(&opts.config)?;
    let checked = check(pack, opts)?;
    let previous = installed_pack(&opts.config, &checked.manifest.name);
    let old_version = previous
        .as_ref()
        .map_or(BEFORE.to_owned(), |p| p.version.clone());
    let record = InstalledPack {
        name: checked.manifest.name.clone(),
        version: checked.manifest.version.clone(),
        date: checked.manifest.date.clone(),
        notes: checked.manifest.notes.clone(),
        installed: chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        files: checked.files.keys().cloned().collect(),
        previous: Some(old_version.clone()),
    };
    let backup = opts
        .config
        .join(PREVIOUS_DIR)
        .join(format!("{}-{old_version}", record.name));
    let mut changes: Vec<(PathBuf, Option<Vec<u8>>)> = checked
        .files
        .iter()
        .map(|(rel, data)| (opts.config.join(rel), Some(data.clone())))
        .collect();
    // Files of the previous version that this one no longer has go away too.
    if let Some(p) = &previous {
        for rel in &p.files {
            if !checked.files.contains_key(rel) && entry_path(rel).is_ok() {
                changes.push((opts.config.join(rel), None));
            }
        }
    }
    let index = toml::to_string_pretty(&record).map_err(|e| PackError::Install {
        detail: e.to_string(),
    })?;
    changes.push((
        packs_dir(&opts.config).join(format!("{}.toml", record.name)),
        Some(index.into_bytes()),
    ));
    apply(&opts.config, &backup, &changes)?;
    ::log::info!(
        target: "sheetbridge",
        "pack installed: {} {} (was {old_version}), {} files{}",
        record.name,
        record.version,
        record.files.len(),
        if checked.signed { "" } else { ", unsigned" }
    );
    Ok(record)
}

/// Applies `changes` (path -> new contents, or `None` to remove) all or nothing: every file
/// that is replaced or removed is first copied into `backup` (relative to `config`); new
/// contents are written whole beside their place, then renamed into it; on any failure the
/// files done so far are put back.
fn apply(
    config: &Path,
    backup: &Path,
    changes: &[(PathBuf, Option<Vec<u8>>)],
) -> Result<(), PackError> {
    let io = |path: &Path, e: std::io::Error| PackError::Install {
        detail: format!("{}：{}", crate::paths::shown(path), io_message(&e)),
    };
    // 1. The files replaced, kept for rollback (a fresh copy of this version's backup).
    let _ = std::fs::remove_dir_all(backup);
    for (path, _) in changes {
        if !path.is_file() {
            continue;
        }
        let Ok(rel) = path.strip_prefix(config) else {
            continue;
        };
        let dest = backup.join(rel);
        if let Some(d) = dest.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        std::fs::copy(path, &dest).map_err(|e| io(&dest, e))?;
    }
    // 2. Every new file written whole beside its place.
    let mut staged: Vec<Option<tempfile::TempPath>> = Vec::new();
    for (path, data) in changes {
        let Some(data) = data else {
            staged.push(None);
            continue;
        };
        let dir = path.parent().unwrap_or(config);
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".sheetbridge-pack-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| io(dir, e))?;
        std::io::Write::write_all(&mut tmp, data).map_err(|e| io(path, e))?;
        tmp.as_file().sync_all().map_err(|e| io(path, e))?;
        staged.push(Some(tmp.into_temp_path()));
    }
    // 3. Into place; on failure, undo what was done.
    for (done, ((path, _), tmp)) in changes.iter().zip(staged).enumerate() {
        let r = match tmp {
            Some(tmp) => tmp.persist(path).map_err(|e| e.error),
            None => match std::fs::remove_file(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        if let Err(e) = r {
            for (path, _) in &changes[..done] {
                let saved = path.strip_prefix(config).map(|rel| backup.join(rel));
                match saved {
                    Ok(saved) if saved.is_file() => {
                        let _ = std::fs::copy(&saved, path);
                    }
                    _ => {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
            return Err(io(path, e));
        }
    }
    Ok(())
}

/// Puts the previous version of pack `name` back: the files its install replaced return, the
/// files it added go. Returns the version now installed (`None`: no pack any more).
pub fn rollback(config: &Path, name: &str) -> Result<Option<InstalledPack>, PackError> {
    let _lock = lock(config)?;
    let current = installed_pack(config, name).ok_or_else(|| PackError::NotInstalled {
        name: name.to_owned(),
    })?;
    let prev_version = current
        .previous
        .clone()
        .ok_or_else(|| PackError::NoPrevious {
            name: name.to_owned(),
        })?;
    let backup = config
        .join(PREVIOUS_DIR)
        .join(format!("{name}-{prev_version}"));
    if !backup.is_dir() {
        return Err(PackError::NoPrevious {
            name: name.to_owned(),
        });
    }
    let index_rel = format!("{PACKS_DIR}/{name}.toml");
    let mut rels: Vec<String> = current.files.clone();
    rels.extend(super::files_under(&backup).into_iter().map(|(_, rel)| rel));
    rels.push(index_rel.clone());
    rels.sort();
    rels.dedup();
    let mut changes = Vec::new();
    for rel in &rels {
        if rel != &index_rel && entry_path(rel).is_err() {
            continue;
        }
        let saved = backup.join(rel);
        let data = if saved.is_file() {
            Some(bounded::read(&saved, bounded::TEXT_FILE)?)
        } else {
            None
        };
        changes.push((config.join(rel), data));
    }
    // The version rolled back from is kept too, so a rollback can itself be undone by
    // installing that pack again.
    let undo = config
        .join(PREVIOUS_DIR)
        .join(format!("{name}-{}", current.version));
    apply(config, &undo, &changes)?;
    let _ = std::fs::remove_dir_all(&backup);
    ::log::info!(
        target: "sheetbridge",
        "pack rolled back: {name} {} -> {prev_version}",
        current.version
    );
    Ok(installed_pack(config, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("1.0", "1.0.0"), Equal);
        assert_eq!(compare_versions("0.9", "1"), Less);
        assert_eq!(compare_versions("x", "1"), Less);
    }

    #[test]
    fn entry_paths_stay_in_their_folders() {
        assert!(entry_path("pack.toml").is_ok());
        assert!(entry_path("profiles/广东.toml").is_ok());
        for bad in [
            "../x.toml",
            "profiles/../../x.toml",
            "/etc/passwd",
            "profiles\\..\\x.toml",
            "C:/x.toml",
            "profiles/sub/x.toml",
            "bin/x.toml",
            "profiles/x.exe",
            "profiles/.toml",
        ] {
            assert!(
                matches!(entry_path(bad), Err(PackError::BadPath { .. })),
                "{bad}"
            );
        }
    }
}
