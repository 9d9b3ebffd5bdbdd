//! Signed profile packs for tests: a key pair that signs, a pack's entries zipped.

use super::repo;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Signer {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

impl Signer {
    pub fn new() -> Signer {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Signer {
            pk: kp.pk,
            sk: kp.sk,
        }
    }

    /// Makes the config folder under `home` trust this key (its `trusted-keys.txt`).
    pub fn trust_in(&self, home: &Path) {
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
    pub fn public(&self) -> String {
        self.pk.to_base64()
    }

    pub fn sign(&self, pack: &Path) {
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

pub fn pack_sig(pack: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", pack.display()))
}

pub fn profile_text(title: &str) -> String {
    std::fs::read_to_string(repo().join("mappings/cdc-nat.toml"))
        .unwrap()
        .replacen(
            "title = \"省疾控核酸检测结果上报\"",
            &format!("title = \"{title}\""),
            1,
        )
}

/// Writes a pack: `pack.toml` plus the given entries.
pub fn make_pack(path: &Path, name: &str, version: &str, entries: &[(&str, &str)]) {
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
