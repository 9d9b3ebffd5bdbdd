//! Why a file could not be read: each variant's Chinese (what to do next) beside its English.
// `message` is over 80 lines: one arm per variant, the catalogue of this type's messages.

use super::limits;
use crate::issue::Lang;
use crate::message::{Localized, Text};
use std::path::PathBuf;

/// Why a file could not be read. The message says what to do next.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum ReadError {
    NotFound {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        reason: String,
    },
    Password {
        path: PathBuf,
    },
    Wps {
        path: PathBuf,
    },
    NotSpreadsheet {
        path: PathBuf,
    },
    Corrupt {
        path: PathBuf,
        detail: String,
    },
    Empty {
        path: PathBuf,
    },
    Limit {
        path: PathBuf,
        limit: limits::Limit,
    },
    TooWide {
        path: PathBuf,
        column: u32,
        max: u32,
    },
    SheetNotFound {
        path: PathBuf,
        sheet: String,
        available: String,
    },
}

impl Localized for ReadError {
    // Over 80 lines: the catalogue of every reading error, one arm per variant.
    fn message(&self) -> Text {
        match self {
            ReadError::NotFound { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("找不到文件「{path}」。请检查文件是否已被移动或删除，再重新选择。"),
                    format!("file not found: {path}"),
                )
            }
            ReadError::Io { path, reason } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("打不开文件「{path}」：{reason}"),
                    format!("cannot open {path}: {reason}"),
                )
            }
            ReadError::Password { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」设置了密码，无法读取。请用 Excel 或 WPS 打开，取消密码后另存为 .xlsx 再试。"
                    ),
                    format!(
                        "{path} is password-protected; open it in Excel or WPS, remove the password and save as .xlsx"
                    ),
                )
            }
            ReadError::Wps { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」是 WPS 表格专用格式（.et），无法直接读取。请用 WPS 打开，“另存为” Excel 格式（.xlsx）再试。"
                    ),
                    format!("{path} is a WPS .et file; open it in WPS and save it as .xlsx"),
                )
            }
            ReadError::NotSpreadsheet { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」不是表格文件（不是 Excel、WPS 或 CSV）。请确认选的是导出的结果文件。"
                    ),
                    format!("{path} is not a spreadsheet (Excel, WPS or CSV)"),
                )
            }
            ReadError::Corrupt { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」已损坏或不完整（可能没有下载完或复制时出错），无法读取。请重新导出，或用 Excel/WPS 打开后另存为 .xlsx 再试。"
                    ),
                    format!(
                        "{path} is damaged or incomplete ({detail}); export it again or re-save it as .xlsx"
                    ),
                )
            }
            ReadError::Empty { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」是空的（没有内容），可能导出或复制时出了错。请重新导出后再试。"
                    ),
                    format!("{path} is empty"),
                )
            }
            ReadError::Limit { path, limit } => {
                let (path, limit) = (crate::paths::shown(path), limit.message());
                Text::new(
                    format!(
                        "文件「{path}」{}，已停止读取。请确认选的是导出的结果文件；如果是，请在原系统重新导出。",
                        limit.zh
                    ),
                    format!("{path}: {}; reading stopped", limit.en),
                )
            }
            ReadError::TooWide { path, column, max } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」在第 {column} 列还有数据，超过了能读取的 {max} 列。请删掉多余的列，或在原系统只导出需要的列。"
                    ),
                    format!(
                        "{path} has data in column {column}, past the {max} columns that can be read"
                    ),
                )
            }
            ReadError::SheetNotFound {
                path,
                sheet,
                available,
            } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」里没有名为「{sheet}」的工作表。有的工作表：{available}。"
                    ),
                    format!("{path} has no sheet named {sheet}; sheets: {available}"),
                )
            }
        }
    }
}
