//! The newest spreadsheets in the Downloads folder, for the start screen (the day's export is
//! almost always there). The folder is read on a worker thread when the start screen opens,
//! never while drawing.

use super::task::{Poll, Task};
use eframe::egui;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How many files the start screen lists.
pub const SHOWN: usize = 6;

const SHEETS: [&str; 8] = ["xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "et", "txt"];

/// One spreadsheet in the folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentFile {
    pub path: PathBuf,
    pub name: String,
    pub modified: SystemTime,
    pub size: u64,
}

impl RecentFile {
    /// "今天 09:12", "昨天 17:30" or "01-09 08:00".
    pub fn when(&self, lang: sheetbridge::issue::Lang) -> String {
        let t: chrono::DateTime<chrono::Local> = self.modified.into();
        let today = chrono::Local::now().date_naive();
        let day = t.date_naive();
        let time = t.format("%H:%M");
        if day == today {
            lang.pick(format!("今天 {time}"), format!("today {time}"))
        } else if today.pred_opt() == Some(day) {
            lang.pick(format!("昨天 {time}"), format!("yesterday {time}"))
        } else {
            t.format("%m-%d %H:%M").to_string()
        }
    }

    /// "35 KB", "1.2 MB".
    pub fn size_text(&self) -> String {
        match self.size {
            s if s < 1024 => format!("{s} B"),
            s if s < 1024 * 1024 => format!("{} KB", s.div_ceil(1024)),
            s => format!("{:.1} MB", s as f64 / (1024.0 * 1024.0)),
        }
    }
}

/// The spreadsheets directly in `dir`, newest first, at most `max`, without the program's own
/// outputs (by name, or by content in the journal of `data`). A folder that cannot be read
/// lists nothing (the start screen still has the drop zone and the dialog).
pub fn list(dir: &Path, data: Option<&Path>, max: usize) -> Vec<RecentFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<RecentFile> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let ext = path.extension()?.to_string_lossy().to_lowercase();
            let name = sheetbridge::paths::file_name(&path);
            // Excel's lock files (~$name.xlsx) are not exports.
            if !SHEETS.contains(&ext.as_str()) || name.starts_with("~$") {
                return None;
            }
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some(RecentFile {
                name,
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                size: meta.len(),
                path,
            })
        })
        .collect();
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    // Newest first, so only as many files are read as it takes to fill the list.
    files
        .into_iter()
        .filter(|f| sheetbridge::unattended::journal::own_output(data, &f.path).is_none())
        .take(max)
        .collect()
}

/// The list as the start screen shows it, refreshed in the background.
#[derive(Default)]
pub struct Recent {
    pub dir: Option<PathBuf>,
    pub files: Vec<RecentFile>,
    task: Option<Task<Vec<RecentFile>>>,
}

impl Recent {
    pub fn new(dir: Option<PathBuf>) -> Recent {
        Recent {
            dir,
            ..Recent::default()
        }
    }

    /// Reads the folder again on a worker thread (when the start screen opens).
    pub fn refresh(&mut self, ctx: &egui::Context, data: Option<PathBuf>) {
        let Some(dir) = self.dir.clone() else {
            self.files.clear();
            return;
        };
        self.task = Some(Task::spawn("downloads", ctx, move || {
            list(&dir, data.as_deref(), SHOWN)
        }));
    }

    /// Takes the worker's answer, if it came.
    pub fn poll(&mut self) {
        match self.task.as_ref().map(Task::poll) {
            Some(Poll::Done(files)) => {
                self.files = files;
                self.task = None;
            }
            Some(Poll::Died) => self.task = None,
            Some(Poll::Running) | None => {}
        }
    }

    /// Whether the folder is being read.
    pub fn reading(&self) -> bool {
        self.task.is_some()
    }
}

/// The user's Downloads folder (the system's own name for it, e.g. 下载 on a Chinese desktop).
/// Without a desktop's user-dirs file, the usual `~/Downloads` or `~/下载` that exists.
pub fn downloads_dir() -> Option<PathBuf> {
    let user = directories::UserDirs::new()?;
    if let Some(d) = user.download_dir() {
        return Some(d.to_owned());
    }
    ["Downloads", "下载"]
        .iter()
        .map(|n| user.home_dir().join(n))
        .find(|d| d.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_spreadsheets_newest_first_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(3600);
        for (name, t) in [
            ("旧.xlsx", old),
            ("新.XLS", SystemTime::now()),
            ("说明.pdf", SystemTime::now()),
            ("~$新.xlsx", SystemTime::now()),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, b"x").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        std::fs::create_dir(dir.path().join("文件夹.xlsx")).unwrap();
        let names: Vec<String> = list(dir.path(), None, 10)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["新.XLS", "旧.xlsx"]);
        assert_eq!(list(dir.path(), None, 1).len(), 1);
        assert!(list(&dir.path().join("none"), None, 10).is_empty());
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        let f = |size| RecentFile {
            path: PathBuf::new(),
            name: String::new(),
            modified: SystemTime::now(),
            size,
        };
        assert_eq!(f(900).size_text(), "900 B");
        assert_eq!(f(35 * 1024).size_text(), "35 KB");
        assert_eq!(f(1_300_000).size_text(), "1.2 MB");
        assert!(f(1).when(sheetbridge::issue::Lang::Zh).starts_with("今天 "));
    }
}
