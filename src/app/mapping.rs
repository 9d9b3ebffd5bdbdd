//! The mapping screen, shown instead of an error when no profile recognises the headers: for
//! each template field the clerk picks the source column (with example values), and the choice
//! is saved as a new profile in the user's folder, so the same export is recognised next time.

use super::{Action, tr};
use crate::issue::Lang;
use crate::profile::Profile;
use crate::rules::text::header_key;
use eframe::egui::{self, RichText};
use std::path::{Path, PathBuf};

pub struct Mapping {
    pub path: PathBuf,
    base: Profile,
    headers: Vec<String>,
    samples: Vec<Vec<String>>,
    /// Per template field, the chosen source column.
    pub choice: Vec<Option<usize>>,
    pub name: String,
    error: Option<String>,
}

impl Mapping {
    pub fn new(
        path: PathBuf,
        base: Profile,
        headers: Vec<String>,
        samples: Vec<Vec<String>>,
    ) -> Mapping {
        let matched = base.match_headers(&headers);
        let mut choice = matched.columns.clone();
        // Best guesses for the rest: a header that contains an alias, or is contained in one.
        for (fi, field) in base.fields.iter().enumerate() {
            if choice[fi].is_some() {
                continue;
            }
            let guess = headers.iter().enumerate().position(|(ci, h)| {
                let k = header_key(h);
                !k.is_empty()
                    && !choice.contains(&Some(ci))
                    && field.alias_keys.iter().any(|a| {
                        a.chars().count() >= 2 && (k.contains(a.as_str()) || a.contains(k.as_str()))
                    })
            });
            choice[fi] = guess;
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name: String = stem
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
            .take(20)
            .collect();
        Mapping {
            path,
            base,
            headers,
            samples,
            choice,
            name: if name.is_empty() {
                "我的模板".into()
            } else {
                format!("{name}-模板")
            },
            error: None,
        }
    }

    fn file_name(&self) -> String {
        crate::paths::file_name(&self.path)
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
            .samples
            .iter()
            .filter_map(|r| r.get(ci).map(String::as_str))
            .filter(|v| !v.trim().is_empty())
            .take(3)
            .collect();
        let head = match lang {
            Lang::Zh => format!("第 {} 列「{}」", ci + 1, self.headers[ci]),
            Lang::En => format!("column {} \"{}\"", ci + 1, self.headers[ci]),
        };
        if examples.is_empty() {
            head
        } else {
            format!(
                "{head}  {}{}",
                tr(lang, "例：", "e.g. "),
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
        let mut aliases = toml::Table::new();
        for (fi, field) in self.base.fields.iter().enumerate() {
            if let Some(ci) = self.choice[fi] {
                let header = self.headers[ci].trim();
                if !header.is_empty() && !field.alias_keys.contains(&header_key(header)) {
                    aliases.insert(
                        field.key.clone(),
                        toml::Value::Array(vec![toml::Value::String(header.to_owned())]),
                    );
                }
            }
        }
        let mut doc = toml::Table::new();
        doc.insert(
            "extends".into(),
            toml::Value::String(self.base.name.clone()),
        );
        doc.insert(
            "title".into(),
            toml::Value::String(format!("{}（{}）", self.base.title, stem)),
        );
        doc.insert("extra_aliases".into(), toml::Value::Table(aliases));
        let text = format!(
            "# 由核酸结果上报助手的“对应列”界面生成，可以用记事本修改。\n# 原始文件：{}\n{}",
            crate::paths::file_name(&self.path),
            toml::to_string(&doc).map_err(|e| e.to_string())?
        );
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "无法创建模板文件夹 {}：{}",
                dir.display(),
                crate::read::io_message(&e)
            )
        })?;
        let path = dir.join(format!("{stem}.toml"));
        crate::write::write_atomically(&path, |f| {
            use std::io::Write;
            f.write_all(text.as_bytes())
                .map_err(|e| crate::write::WriteError::Io {
                    path: path.clone(),
                    reason: crate::read::io_message(&e),
                })
        })
        .map_err(|e| e.to_string())?;
        Ok(stem)
    }

    pub fn show(&mut self, ui: &mut egui::Ui, lang: Lang, dir: Option<&Path>) -> Action {
        let mut action = Action::None;
        ui.heading(tr(
            lang,
            "没有认出这个文件的表头，请告诉我每一列是什么",
            "The headers were not recognised: tell me which column is which",
        ));
        ui.label(match lang {
            Lang::Zh => format!(
                "文件：{}。带 * 的是必填项。选好后保存为新模板，以后同样格式的文件会自动识别。",
                self.file_name()
            ),
            Lang::En => format!("File: {}. Fields marked * are required. Save the choice as a new profile and files like this are recognised next time.", self.file_name()),
        });
        ui.add_space(8.0);
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 110.0)
            .show(ui, |ui| {
                egui::Grid::new("mapping")
                    .num_columns(2)
                    .striped(true)
                    .spacing([20.0, 8.0])
                    .show(ui, |ui| {
                        for fi in 0..self.base.fields.len() {
                            let field = &self.base.fields[fi];
                            let star = if field.required && field.default.is_none() {
                                " *"
                            } else {
                                ""
                            };
                            ui.label(RichText::new(format!("{}{star}", field.header)).strong());
                            let selected = match self.choice[fi] {
                                Some(ci) => self.column_text(ci, lang),
                                None => tr(lang, "（没有这一列）", "(no such column)").to_owned(),
                            };
                            let mut pick = self.choice[fi];
                            let header = field.header.clone();
                            let combo = egui::ComboBox::from_id_salt(("map", fi))
                                .width(560.0)
                                .selected_text(selected)
                                .show_ui(ui, |ui| {
                                    ui.selectable_value(
                                        &mut pick,
                                        None,
                                        tr(lang, "（没有这一列）", "(no such column)"),
                                    );
                                    for ci in 0..self.headers.len() {
                                        if self.headers[ci].trim().is_empty() {
                                            continue;
                                        }
                                        let text = self.column_text(ci, lang);
                                        ui.selectable_value(&mut pick, Some(ci), text);
                                    }
                                });
                            // The drop-down is named by its field, for screen readers and tests.
                            combo.response.widget_info(|| {
                                egui::WidgetInfo::labeled(egui::Role::ComboBox, true, &header)
                            });
                            if pick != self.choice[fi] {
                                // A column feeds one field: take it from any other.
                                if let Some(ci) = pick {
                                    for c in &mut self.choice {
                                        if *c == Some(ci) {
                                            *c = None;
                                        }
                                    }
                                }
                                self.choice[fi] = pick;
                            }
                            ui.end_row();
                        }
                    });
            });
        ui.add_space(8.0);
        let missing: Vec<String> = self.missing().into_iter().map(str::to_owned).collect();
        if !missing.is_empty() {
            ui.colored_label(
                egui::Color32::from_rgb(176, 0, 32),
                format!(
                    "{}{}",
                    tr(lang, "还需要选择：", "Still to choose: "),
                    missing.join("、")
                ),
            );
        }
        ui.horizontal(|ui| {
            let label = ui.label(tr(lang, "新模板名称：", "New profile name:"));
            ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(240.0))
                .labelled_by(label.id);
            let can = missing.is_empty() && dir.is_some();
            if ui
                .add_enabled(
                    can,
                    egui::Button::new(
                        RichText::new(tr(
                            lang,
                            "保存为新模板并继续",
                            "Save as a new profile and continue",
                        ))
                        .size(19.0),
                    ),
                )
                .clicked()
                && let Some(dir) = dir
            {
                match self.save(dir) {
                    Ok(name) => action = Action::ProfileSaved(name),
                    Err(e) => self.error = Some(e),
                }
            }
            if ui.button(tr(lang, "返回", "Back")).clicked() {
                action = Action::Close;
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(176, 0, 32), e);
        }
        action
    }
}
