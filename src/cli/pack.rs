//! `sheetbridge pack install | list | rollback`: signed profile packs (support.md).

use super::{EXIT_OK, Failure, Run, say};
use clap::Subcommand;
use sheetbridge::issue::Lang;
use sheetbridge::support::pack::{self, PackOptions};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PackCommand {
    /// 安装模板包：先核对签名和包里的每个文件，全部没问题才一起安装
    Install {
        /// 模板包文件（.sbpack；签名文件 .sbpack.minisig 要放在它旁边）
        file: PathBuf,
        /// 不要求签名（只供技术支持自己测试用）
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// 列出已安装的模板包和版本
    List,
    /// 退回模板包的上一个版本
    Rollback {
        /// 模板包名称（见 pack list）
        name: String,
    },
}

/// The machine-wide trusted keys: `SHEETBRIDGE_MACHINE_KEYS` when set (tests, portable
/// installs), else the system's place (see [`pack::machine_keys`]).
pub fn machine_keys() -> Option<PathBuf> {
    match std::env::var_os("SHEETBRIDGE_MACHINE_KEYS") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => pack::machine_keys(std::env::current_exe().ok().as_deref()),
    }
}

pub fn run(cmd: &PackCommand, lang: Lang) -> Run {
    let config = super::folders().config.ok_or_else(|| {
        Failure::new(
            "没有找到配置文件夹，请设置环境变量 SHEETBRIDGE_CONFIG_DIR。",
            "no config folder; set SHEETBRIDGE_CONFIG_DIR",
        )
    })?;
    match cmd {
        PackCommand::Install {
            file,
            allow_unsigned,
        } => {
            let mut opts = PackOptions::new(&config, machine_keys());
            opts.allow_unsigned = *allow_unsigned;
            let p = pack::install(file, &opts)?;
            let n = p.files.len();
            say(
                lang,
                format!(
                    "已安装模板包「{}」版本 {}（{n} 个文件）。{}",
                    p.name, p.version, p.notes
                ),
                format!(
                    "installed pack {} {} ({n} files). {}",
                    p.name, p.version, p.notes
                ),
            );
        }
        PackCommand::List => {
            let all = pack::installed(&config);
            if all.is_empty() {
                say(lang, "还没有安装模板包。", "no pack installed");
            }
            for p in all {
                println!(
                    "{}",
                    super::columns(&[&p.name, &p.version, &p.date, &p.installed])
                );
            }
        }
        PackCommand::Rollback { name } => match pack::rollback(&config, name)? {
            Some(p) => say(
                lang,
                format!("模板包「{name}」已退回到版本 {}。", p.version),
                format!("pack {name} is back at {}", p.version),
            ),
            None => say(
                lang,
                format!("模板包「{name}」已退回到安装它之前的样子。"),
                format!("pack {name} removed: back to before it"),
            ),
        },
    }
    Ok(EXIT_OK)
}
