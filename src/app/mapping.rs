//! The mapping screen, shown instead of an error when no profile recognises the headers: for
//! each template field the clerk picks the source column (with example values), and the choice
//! is saved as a new profile in the user's folder, so the same export is recognised next time.

use super::Action;
use eframe::egui::{self, RichText};
use sheetbridge::guess::{self, Reason};
use sheetbridge::issue::Lang;
use sheetbridge::pipeline::HeaderMismatch;
use sheetbridge::profile::Profile;
use sheetbridge::rules::text::header_key;
use std::path::{Path, PathBuf};

pub struct Mapping {
    pub path: PathBuf,
    base: Profile,
    /// The sheet's top rows (row number, cells as shown), for the header-row preview.
    head: Vec<(u32, Vec<String>)>,
    /// Which of `head` holds the header.
    pub header_at: usize,
    headers: Vec<String>,
    /// The rows below the header, for examples and guesses.
    values: Vec<Vec<String>>,
    /// Per column, its text in the drop-downs (number, header, first values).
    column_texts: Vec<String>,
    /// Per template field, the chosen source column.
    pub choice: Vec<Option<usize>>,
    /// Per template field, why its column was guessed (`None`: chosen by hand, or no guess).
    pub reasons: Vec<Option<Reason>>,
    pub name: String,
    error: Option<String>,
    /// The text typed into the open drop-down's search box.
    filter: String,
    focus_filter: bool,
}

impl Mapping {
    /// The screen for a file whose header was not recognised, from what the load found.
    pub fn new(path: PathBuf, base: Profile, found: &HeaderMismatch, lang: Lang) -> Mapping {
        let head = if found.head.is_empty() {
            // An older caller without the preview: the header row and its samples.
            std::iter::once((1, found.headers_all.clone()))
                .chain(found.samples.iter().cloned().map(|r| (2, r)))
                .collect()
        } else {
            found.head.clone()
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name: String = stem
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
            .take(20)
            .collect();
        let mut m = Mapping {
            path,
            base,
            head,
            header_at: 0,
            headers: Vec::new(),
            values: Vec::new(),
            column_texts: Vec::new(),
            choice: Vec::new(),
            reasons: Vec::new(),
            name: if name.is_empty() {
                "我的模板".into()
            } else {
                format!("{name}-模板")
            },
            error: None,
            filter: String::new(),
            focus_filter: false,
        };
        m.set_header(found.header_at.min(m.head.len().saturating_sub(1)), lang);
        m
    }

    /// Takes row `at` of the preview as the header: its cells name the columns, the rows
    /// below give the examples, and every field is guessed again.
    pub fn set_header(&mut self, at: usize, lang: Lang) {
        let Some((_, row)) = self.head.get(at) else {
            return;
        };
        let width = self.head.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let mut headers = row.clone();
        headers.resize(width, String::new());
        self.header_at = at;
        self.values = self.head[at + 1..].iter().map(|r| r.1.clone()).collect();
        let guesses = guess::columns(&self.base, &headers, &self.values);
        self.choice = guesses
            .iter()
            .map(|g| g.as_ref().map(|g| g.column))
            .collect();
        self.reasons = guesses.into_iter().map(|g| g.map(|g| g.reason)).collect();
        self.headers = headers;
        self.column_texts = (0..self.headers.len())
            .map(|ci| self.column_text(ci, lang))
            .collect();
        self.error = None;
    }

    /// The row number (1-based, as in the spreadsheet) of the header.
    pub fn header_row(&self) -> u32 {
        self.head.get(self.header_at).map_or(1, |r| r.0)
    }

    /// Chooses column `column` for field `field` (what picking it in the drop-down does): a
    /// column feeds one field, so any other field that had it loses it.
    pub fn choose(&mut self, field: usize, column: Option<usize>) {
        if let Some(ci) = column {
            for (fi, c) in self.choice.iter_mut().enumerate() {
                if *c == Some(ci) && fi != field {
                    *c = None;
                    self.reasons[fi] = None;
                }
            }
        }
        if let Some(c) = self.choice.get_mut(field) {
            *c = column;
            self.reasons[field] = None;
        }
    }

    fn file_name(&self) -> String {
        sheetbridge::paths::file_name(&self.path)
    }

    /// Required fields (without a default) that still have no column.
    pub fn missing(&self) -> Vec<&str> {
        self.base
            .fields
            .iter()
            .zip(&self.choice)
            .filter(|(f, c)| f.required && f.default.is_none() && c.is_none())
            .map(|(f, _)| f.header.as_str())
            .collect()
    }

    fn column_text(&self, ci: usize, lang: Lang) -> String {
        let examples: Vec<&str> = self
            .values
            .iter()
            .filter_map(|r| r.get(ci).map(String::as_str))
            .filter(|v| !v.trim().is_empty())
            .take(3)
            .collect();
        let head = lang.pick(
            format!("第 {} 列「{}」", ci + 1, self.headers[ci]),
            format!("column {} \"{}\"", ci + 1, self.headers[ci]),
        );
        if examples.is_empty() {
            head
        } else {
            format!(
                "{head}  {}{}",
                lang.pick("例：", "e.g. "),
                examples.join("、")
            )
        }
    }

    /// Writes the choice as a profile that extends the base one with the chosen headers as
    /// extra aliases; returns its name.
    pub fn save(&self, dir: &Path) -> Result<String, String> {
        let stem: String = self
            .name
            .trim()
            .chars()
            .filter(|c| !"/\\:*?\"<>|".contains(*c))
            .collect();
        if stem.is_empty() {
            return Err("请给新模板起个名字。".into());
        }
        let mut extra_aliases = std::collections::BTreeMap::new();
        for (fi, field) in self.base.fields.iter().enumerate() {
            if let Some(ci) = self.choice[fi] {
                let header = self.headers[ci].trim();
                if !header.is_empty() && !field.alias_keys.contains(&header_key(header)) {
                    extra_aliases.insert(field.key.clone(), vec![header.to_owned()]);
                }
            }
        }
        let ext = sheetbridge::profile::Extension {
            extends: self.base.name.clone(),
            title: format!("{}（{}）", self.base.title, stem),
            extra_aliases,
        };
        let source = format!("原始文件：{}", sheetbridge::paths::file_name(&self.path));
        let text = ext
            .to_text(&[
                "由核酸结果上报助手的“对应列”界面生成，可以用记事本修改。",
                &source,
            ])
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "无法创建模板文件夹 {}：{}",
                sheetbridge::paths::shown(dir),
                sheetbridge::read::io_message(&e)
            )
        })?;
        let path = dir.join(format!("{stem}.toml"));
        sheetbridge::write::write_atomically(&path, |f| {
            use std::io::Write;
            f.write_all(text.as_bytes())
                .map_err(|e| sheetbridge::write::WriteError::Io {
                    path: path.clone(),
                    reason: sheetbridge::read::io_message(&e),
                })
        })
        .map_err(|e| e.to_string())?;
        Ok(stem)
    }

    pub fn show(&mut self, ui: &mut egui::Ui, lang: Lang, dir: Option<&Path>) -> Action {
        let mut action = Action::None;
        egui::Panel::bottom("mapping_save").show(ui, |ui| {
            action = self.save_bar(ui, lang, dir);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.heading(lang.pick(
                    "没有认出这个文件的表头，请告诉我每一列是什么",
                    "The headers were not recognised: tell me which column is which",
                ));
                let file = self.file_name();
                ui.label(lang.pick(
                    format!(
                        "文件：{file}。已按表头和内容猜好了对应的列，请核对；带 * 的是必填项。保存为新模板后，以后同样格式的文件会自动识别。"
                    ),
                    format!(
                        "File: {file}. The columns are guessed from their headers and values: check them; fields marked * are required. Save the choice as a new profile and files like this are recognised next time."
                    ),
                ));
                ui.add_space(8.0);
                self.preview(ui, lang);
                ui.add_space(8.0);
                self.fields(ui, lang);
            });
        });
        action
    }

    /// The sheet's top rows as they are; clicking a row takes it as the header.
    fn preview(&mut self, ui: &mut egui::Ui, lang: Lang) {
        ui.label(
            RichText::new(lang.pick(
                format!(
                    "表头在第 {} 行（如果不对，点下面表头所在的那一行）",
                    self.header_row()
                ),
                format!(
                    "The header is on row {} (if not, click the row that holds it)",
                    self.header_row()
                ),
            ))
            .strong(),
        );
        let mut pick = None;
        let shown = self.head.len().min(6);
        let cols = self
            .head
            .iter()
            .map(|r| r.1.len())
            .max()
            .unwrap_or(0)
            .min(8);
        egui::Frame::group(ui.style()).show(ui, |ui| {
            egui::ScrollArea::horizontal()
                .id_salt("preview")
                .show(ui, |ui| {
                    egui::Grid::new("preview_rows")
                        .num_columns(cols + 1)
                        .spacing([12.0, 0.0])
                        .show(ui, |ui| {
                            for (pos, (n, cells)) in self.head.iter().take(shown).enumerate() {
                                let is_header = pos == self.header_at;
                                let label = lang.pick(format!("第 {n} 行"), format!("row {n}"));
                                if ui.selectable_label(is_header, label).clicked() {
                                    pick = Some(pos);
                                }
                                for c in 0..cols {
                                    let text: String = cells
                                        .get(c)
                                        .map(|t| t.chars().take(14).collect())
                                        .unwrap_or_default();
                                    let mut rt = RichText::new(text);
                                    if is_header {
                                        rt = rt.strong();
                                    } else if pos < self.header_at {
                                        rt = rt.weak();
                                    }
                                    if ui
                                        .add(egui::Label::new(rt).sense(egui::Sense::click()))
                                        .clicked()
                                    {
                                        pick = Some(pos);
                                    }
                                }
                                ui.end_row();
                            }
                        });
                });
        });
        if let Some(pos) = pick
            && pos != self.header_at
        {
            self.set_header(pos, lang);
        }
    }

    /// For each template field, a searchable drop-down of the columns, and why it was guessed.
    fn fields(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let combo_width = (ui.available_width() - 380.0).clamp(300.0, 620.0);
        let mut picked: Option<(usize, Option<usize>)> = None;
        egui::Grid::new("mapping")
            .num_columns(3)
            .striped(true)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                for fi in 0..self.base.fields.len() {
                    if let Some(column) = self.field_row(ui, lang, fi, combo_width) {
                        picked = Some((fi, column));
                    }
                    ui.end_row();
                }
            });
        if let Some((fi, ci)) = picked {
            self.choose(fi, ci);
        }
    }

    /// One template field: its header (`*` when required), the drop-down of the columns, and
    /// why the column was guessed. Returns the column picked (`Some(None)`: none).
    fn field_row(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        fi: usize,
        combo_width: f32,
    ) -> Option<Option<usize>> {
        let mut picked = None;
        let field = &self.base.fields[fi];
        let star = if field.required && field.default.is_none() {
            " *"
        } else {
            ""
        };
        ui.label(RichText::new(format!("{}{star}", field.header)).strong());
        let none = lang.pick("（没有这一列）", "(no such column)");
        let selected = match self.choice[fi] {
            Some(ci) => self.column_texts[ci].clone(),
            None => none.to_owned(),
        };
        let header = field.header.clone();
        // Which field uses each column, to mark them in the list.
        let used_by: Vec<Option<&str>> = (0..self.headers.len())
            .map(|ci| {
                self.choice
                    .iter()
                    .position(|c| *c == Some(ci))
                    .filter(|&other| other != fi)
                    .map(|other| self.base.fields[other].header.as_str())
            })
            .collect();
        let focus = std::mem::take(&mut self.focus_filter);
        let list = ColumnList {
            texts: &self.column_texts,
            headers: &self.headers,
            used_by: &used_by,
            current: self.choice[fi],
            none,
        };
        let filter = &mut self.filter;
        let combo = egui::ComboBox::from_id_salt(("map", fi))
            .width(combo_width)
            .height(420.0)
            .truncate()
            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside)
            .selected_text(selected)
            .show_ui(ui, |ui| picked = list.show(ui, lang, filter, focus));
        if combo.response.clicked() {
            self.filter.clear();
            self.focus_filter = true;
        } else if focus {
            // Not this one: keep the request for the drop-down being opened.
            self.focus_filter = combo.inner.is_none();
        }
        // The drop-down is named by its field, for screen readers and tests.
        combo
            .response
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, &header));
        match &self.reasons[fi] {
            Some(r) => ui.label(
                RichText::new(format!(
                    "{}{}",
                    lang.pick("猜测：", "guess: "),
                    r.text(lang)
                ))
                .weak(),
            ),
            None if self.choice[fi].is_some() => {
                ui.label(RichText::new(lang.pick("手动选择", "chosen by hand")).weak())
            }
            None => ui.label(""),
        };
        picked
    }

    fn save_bar(&mut self, ui: &mut egui::Ui, lang: Lang, dir: Option<&Path>) -> Action {
        let mut action = Action::None;
        ui.add_space(6.0);
        let missing: Vec<String> = self.missing().into_iter().map(str::to_owned).collect();
        if !missing.is_empty() {
            ui.colored_label(
                egui::Color32::from_rgb(176, 0, 32),
                format!(
                    "{}{}",
                    lang.pick("还需要选择：", "Still to choose: "),
                    missing.join("、")
                ),
            );
        }
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(lang.pick("新模板名称：", "New profile name:"));
            ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(220.0))
                .labelled_by(label.id);
            let can = missing.is_empty() && dir.is_some();
            if ui
                .add_enabled(
                    can,
                    egui::Button::new(
                        RichText::new(
                            lang.pick("保存为新模板并继续", "Save as a new profile and continue"),
                        )
                        .size(19.0),
                    )
                    .min_size(egui::vec2(0.0, 36.0)),
                )
                .clicked()
                && let Some(dir) = dir
            {
                match self.save(dir) {
                    Ok(name) => action = Action::ProfileSaved(name),
                    Err(e) => self.error = Some(e),
                }
            }
            if ui.button(lang.pick("返回", "Back")).clicked() {
                action = Action::Close;
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(176, 0, 32), e);
        }
        ui.add_space(6.0);
        action
    }
}

/// The list inside a field's drop-down: a search box, "没有这一列", and the columns that match,
/// those used by another field marked.
struct ColumnList<'a> {
    texts: &'a [String],
    headers: &'a [String],
    used_by: &'a [Option<&'a str>],
    current: Option<usize>,
    none: &'a str,
}

impl ColumnList<'_> {
    /// Returns the column picked (`Some(None)`: none).
    fn show(
        &self,
        ui: &mut egui::Ui,
        lang: Lang,
        filter: &mut String,
        focus: bool,
    ) -> Option<Option<usize>> {
        let mut picked = None;
        let search = ui.add(
            egui::TextEdit::singleline(filter)
                .desired_width(f32::INFINITY)
                .hint_text(lang.pick("输入列名或内容查找", "Type a header or a value to find")),
        );
        if focus {
            search.request_focus();
        }
        if ui
            .selectable_label(self.current.is_none(), self.none)
            .clicked()
        {
            picked = Some(None);
            ui.close();
        }
        let needle = filter.trim().to_lowercase();
        for ci in 0..self.headers.len() {
            if self.headers[ci].trim().is_empty()
                || (!needle.is_empty() && !self.texts[ci].to_lowercase().contains(&needle))
            {
                continue;
            }
            let mut text = RichText::new(self.texts[ci].as_str());
            if let Some(other) = self.used_by[ci] {
                let label = &self.texts[ci];
                text = RichText::new(lang.pick(
                    format!("{label}（已用于“{other}”）"),
                    format!("{label} (used for \"{other}\")"),
                ))
                .weak();
            }
            if ui
                .selectable_label(self.current == Some(ci), text)
                .clicked()
            {
                picked = Some(Some(ci));
                ui.close();
            }
        }
        picked
    }
}
