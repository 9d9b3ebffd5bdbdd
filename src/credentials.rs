//! Remembered credentials (target.md, "Credentials"): the OS credential store (Windows
//! Credential Manager, the Secret Service on Linux) through the `keyring` crate, and where no
//! store answers (cron has no session bus; some desktops run no secret service)
//! `credentials.toml` in the config folder, readable by the user alone (created 0600).
//!
//! The environment variables win over anything remembered; the front ends read them and pass
//! them in ([`with_env`]). Nothing here prints or logs a secret, and [`Credentials`]' `Debug`
//! hides them.

use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::upload::client::Credentials;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The service name under which every entry is stored in the OS credential store.
const SERVICE: &str = "sheetbridge";
/// The file used where no credential store answers.
pub const FILE_NAME: &str = "credentials.toml";

/// Whose credentials: a platform (target) or a city system (source), by reference or stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    Target(String),
    Source(String),
}

impl Account {
    /// The key in the store: `target:<name>` or `source:<name>`.
    pub fn key(&self) -> String {
        match self {
            Account::Target(n) => format!("target:{n}"),
            Account::Source(n) => format!("source:{n}"),
        }
    }

    fn section(&self) -> (&'static str, &str) {
        match self {
            Account::Target(n) => ("target", n),
            Account::Source(n) => ("source", n),
        }
    }
}

/// Where remembered credentials went (said plainly to the clerk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The OS credential store.
    Keyring,
    /// `credentials.toml`, readable by this user alone; why the store was not used.
    File { path: PathBuf, why: String },
}

impl Localized for Stored {
    fn message(&self) -> Text {
        match self {
            Stored::Keyring => Text::new(
                "已记住：保存在系统的密码库里（Windows 凭据管理器或桌面的密钥环）。",
                "remembered in the OS credential store",
            ),
            Stored::File { path, why } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "已记住：这台电脑没有可用的系统密码库（{why}），所以保存在文件「{path}」里，只有当前用户能读。"
                    ),
                    format!(
                        "no OS credential store answered ({why}); remembered in {path}, readable by this user alone"
                    ),
                )
            }
        }
    }
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::Zh))
    }
}

/// Why credentials could not be remembered or read.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum CredentialError {
    NoConfigDir,
    File { path: PathBuf, detail: String },
}

impl Localized for CredentialError {
    fn message(&self) -> Text {
        match self {
            CredentialError::NoConfigDir => Text::new(
                "没有找到配置文件夹，无法记住密码；请设置环境变量 SHEETBRIDGE_CONFIG_DIR。",
                "no config folder; set SHEETBRIDGE_CONFIG_DIR",
            ),
            CredentialError::File { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("读写密码文件「{path}」出错：{detail}"),
                    format!("credentials file {path}: {detail}"),
                )
            }
        }
    }
}

/// One account in the file (and the JSON kept in the OS store).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<&Credentials> for Entry {
    fn from(c: &Credentials) -> Entry {
        Entry {
            user: c.user.clone(),
            password: c.password.clone(),
            token: c.token.clone(),
        }
    }
}

impl From<Entry> for Credentials {
    fn from(e: Entry) -> Credentials {
        Credentials {
            user: e.user,
            password: e.password,
            token: e.token,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    target: BTreeMap<String, Entry>,
    #[serde(default)]
    source: BTreeMap<String, Entry>,
}

/// The remembered credentials of this user.
#[derive(Debug, Clone)]
pub struct Store {
    config_dir: Option<PathBuf>,
    keyring: bool,
}

impl Store {
    /// The OS credential store first, `credentials.toml` in `config_dir` where none answers.
    pub fn new(config_dir: Option<PathBuf>) -> Store {
        Store {
            config_dir,
            keyring: true,
        }
    }

    /// Only `credentials.toml` (tests, portable installs).
    pub fn file_only(config_dir: Option<PathBuf>) -> Store {
        Store {
            config_dir,
            keyring: false,
        }
    }

    fn file_path(&self) -> Result<PathBuf, CredentialError> {
        self.config_dir
            .as_ref()
            .map(|d| d.join(FILE_NAME))
            .ok_or(CredentialError::NoConfigDir)
    }

    /// Remembers `creds` for `account`: in the OS store when it answers, else in the file.
    pub fn remember(
        &self,
        account: &Account,
        creds: &Credentials,
    ) -> Result<Stored, CredentialError> {
        let entry = Entry::from(creds);
        let why = if self.keyring {
            match keyring_set(account, &entry) {
                Ok(()) => {
                    // An older copy in the file would be read where the store does not answer.
                    self.edit_file(account, None)?;
                    return Ok(Stored::Keyring);
                }
                Err(why) => why,
            }
        } else {
            "已设为只用文件".into()
        };
        self.edit_file(account, Some(entry))?;
        Ok(Stored::File {
            path: self.file_path()?,
            why,
        })
    }

    /// The remembered credentials of `account`, if any.
    pub fn recall(&self, account: &Account) -> Result<Option<Credentials>, CredentialError> {
        if self.keyring
            && let Some(e) = keyring_get(account)
        {
            return Ok(Some(e.into()));
        }
        let file = self.read_file()?;
        let (section, name) = account.section();
        let map = if section == "target" {
            &file.target
        } else {
            &file.source
        };
        Ok(map.get(name).cloned().map(Credentials::from))
    }

    /// Forgets `account` everywhere.
    pub fn forget(&self, account: &Account) -> Result<(), CredentialError> {
        if self.keyring
            && let Ok(e) = keyring::Entry::new(SERVICE, &account.key())
        {
            let _ = e.delete_credential();
        }
        self.edit_file(account, None)
    }

    fn read_file(&self) -> Result<File, CredentialError> {
        let path = self.file_path()?;
        let text = match crate::bounded::read_to_string(&path, crate::bounded::TEXT_FILE) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Ok(File::default()),
            Err(e) => {
                return Err(CredentialError::File {
                    path,
                    detail: e.reason(),
                });
            }
        };
        toml::from_str(&text).map_err(|e| CredentialError::File {
            path,
            detail: e.message().to_owned(),
        })
    }

    /// Sets (or with `None` removes) one account in the file, written whole, 0600 from the
    /// start. A missing file is not created just to remove something.
    fn edit_file(&self, account: &Account, entry: Option<Entry>) -> Result<(), CredentialError> {
        let path = self.file_path()?;
        if entry.is_none() && !path.exists() {
            return Ok(());
        }
        let mut file = self.read_file()?;
        let (section, name) = account.section();
        let map = if section == "target" {
            &mut file.target
        } else {
            &mut file.source
        };
        match entry {
            Some(e) => {
                map.insert(name.to_owned(), e);
            }
            None => {
                if map.remove(name).is_none() {
                    return Ok(());
                }
            }
        }
        let text = toml::to_string(&file).map_err(|e| CredentialError::File {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        write_private(&path, text.as_bytes()).map_err(|e| CredentialError::File {
            path: path.clone(),
            detail: io_message(&e),
        })
    }
}

/// Writes a file readable by the user alone: a temporary file (0600 on Unix from its
/// creation) beside it, renamed into place.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    crate::privacy::create_private_dir(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".sheetbridge-")
        .suffix(".part")
        .tempfile_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn keyring_set(account: &Account, entry: &Entry) -> Result<(), String> {
    let json = serde_json::to_string(entry).map_err(|e| e.to_string())?;
    let e = keyring::Entry::new(SERVICE, &account.key()).map_err(|e| e.to_string())?;
    e.set_password(&json).map_err(|e| e.to_string())?;
    // Read it back: some stores accept a write they cannot keep (no default collection).
    match e.get_password() {
        Ok(back) if back == json => Ok(()),
        Ok(_) => Err("系统密码库保存后读回的内容不一致".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn keyring_get(account: &Account) -> Option<Entry> {
    let e = keyring::Entry::new(SERVICE, &account.key()).ok()?;
    let json = e.get_password().ok()?;
    serde_json::from_str(&json).ok()
}

/// A front end's environment: the value of a variable, if set (the library reads none itself).
pub type Vars = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// THE place where the credentials of a target or a source are found (guarantees.md, section
/// 1), for every command and the window's sender: the environment variables when set
/// (`SHEETBRIDGE_USER` / `_PASSWORD` / `_TOKEN`; for a source `SHEETBRIDGE_SOURCE_*` first),
/// else what `login` or the window remembered ([`Store`]). The window adds the credentials the
/// clerk typed for its target this session ([`Finder::with_session`]), used for that target
/// alone.
#[derive(Clone)]
pub struct Finder {
    store: Store,
    vars: Vars,
    session: Option<(Account, Credentials)>,
}

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finder")
            .field("store", &self.store)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Finder {
    /// Looks in `store`, after the environment as `vars` gives it.
    pub fn new(store: Store, vars: Vars) -> Finder {
        Finder {
            store,
            vars,
            session: None,
        }
    }

    /// No environment, nothing remembered: every target and source without credentials.
    pub fn none() -> Finder {
        Finder::new(Store::file_only(None), std::sync::Arc::new(|_| None))
    }

    /// The same, with `creds` for `account` (typed in the window) winning for that account.
    pub fn with_session(mut self, account: Account, creds: Credentials) -> Finder {
        self.session = Some((account, creds));
        self
    }

    /// The environment's credentials for `account`.
    fn env(&self, account: &Account) -> Credentials {
        let var = |k: &str| (self.vars)(k).filter(|v| !v.is_empty());
        let platform = Credentials {
            user: var("SHEETBRIDGE_USER"),
            password: var("SHEETBRIDGE_PASSWORD"),
            token: var("SHEETBRIDGE_TOKEN"),
        };
        match account {
            Account::Target(_) => platform,
            Account::Source(_) => Credentials {
                user: var("SHEETBRIDGE_SOURCE_USER").or(platform.user),
                password: var("SHEETBRIDGE_SOURCE_PASSWORD").or(platform.password),
                token: var("SHEETBRIDGE_SOURCE_TOKEN").or(platform.token),
            },
        }
    }

    /// The credentials of `account`: each environment value when set, else the remembered one.
    /// A store that cannot be read is an error only when the environment does not give a user
    /// name and password or a token by itself.
    pub fn find(&self, account: &Account) -> Result<Credentials, CredentialError> {
        if let Some((a, creds)) = &self.session
            && a == account
        {
            return Ok(creds.clone());
        }
        let env = self.env(account);
        match self.store.recall(account) {
            Ok(remembered) => Ok(with_env(env, remembered)),
            Err(_) if env.token.is_some() || (env.user.is_some() && env.password.is_some()) => {
                Ok(env)
            }
            Err(e) => Err(e),
        }
    }
}

/// The credentials to use: each environment value when set, else the remembered one.
pub fn with_env(env: Credentials, remembered: Option<Credentials>) -> Credentials {
    let r = remembered.unwrap_or_default();
    Credentials {
        user: env.user.or(r.user),
        password: env.password.or(r.password),
        token: env.token.or(r.token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            user: Some(u.into()),
            password: Some(p.into()),
            token: None,
        }
    }

    #[test]
    fn file_store_round_trips_private_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::file_only(Some(dir.path().join("cfg")));
        let t = Account::Target("stand".into());
        let s = Account::Source("city".into());
        assert!(store.recall(&t).unwrap().is_none());
        let where_ = store.remember(&t, &creds("clerk", "s3cret")).unwrap();
        assert!(matches!(where_, Stored::File { .. }));
        store.remember(&s, &creds("lab", "other")).unwrap();
        let back = store.recall(&t).unwrap().unwrap();
        assert_eq!(back.password.as_deref(), Some("s3cret"));
        assert_eq!(
            store.recall(&s).unwrap().unwrap().user.as_deref(),
            Some("lab")
        );
        let path = dir.path().join("cfg").join(FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        store.forget(&t).unwrap();
        assert!(store.recall(&t).unwrap().is_none());
        assert!(store.recall(&s).unwrap().is_some());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("cfg"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn environment_wins_field_by_field() {
        let env = Credentials {
            user: None,
            password: Some("env".into()),
            token: None,
        };
        let c = with_env(env, Some(creds("remembered", "old")));
        assert_eq!(c.user.as_deref(), Some("remembered"));
        assert_eq!(c.password.as_deref(), Some("env"));
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        std::sync::Arc::new(move |k| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn finder_gives_each_account_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::file_only(Some(dir.path().to_owned()));
        let (a, b) = (Account::Target("a".into()), Account::Target("b".into()));
        store.remember(&a, &creds("ua", "pa")).unwrap();
        store.remember(&b, &creds("ub", "pb")).unwrap();
        let finder = Finder::new(store.clone(), vars(&[]));
        assert_eq!(finder.find(&a).unwrap().user.as_deref(), Some("ua"));
        assert_eq!(finder.find(&b).unwrap().password.as_deref(), Some("pb"));
        // The window's session credentials are for its own target only.
        let session = finder.clone().with_session(a.clone(), creds("typed", "t"));
        assert_eq!(session.find(&a).unwrap().user.as_deref(), Some("typed"));
        assert_eq!(session.find(&b).unwrap().user.as_deref(), Some("ub"));
        // The environment wins; a source's own variables before the platform's.
        let env = Finder::new(
            store,
            vars(&[
                ("SHEETBRIDGE_PASSWORD", "envp"),
                ("SHEETBRIDGE_SOURCE_USER", "su"),
            ]),
        );
        let got = env.find(&a).unwrap();
        assert_eq!(
            (got.user.as_deref(), got.password.as_deref()),
            (Some("ua"), Some("envp"))
        );
        let src = env.find(&Account::Source("city".into())).unwrap();
        assert_eq!(
            (src.user.as_deref(), src.password.as_deref()),
            (Some("su"), Some("envp"))
        );
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "target = 3").unwrap();
        let store = Store::file_only(Some(dir.path().to_owned()));
        let e = store.recall(&Account::Target("x".into())).unwrap_err();
        assert!(e.to_string().contains(FILE_NAME), "{e}");
    }
}
