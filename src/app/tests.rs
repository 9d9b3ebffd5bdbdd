//! The window, driven like a clerk would: egui_kittest finds widgets by their Chinese labels,
//! clicks and types, and the assertions look at the app's state and the files it writes. A
//! missing glyph makes the harness panic, so every test here is also a test against tofu.
//!
//! The binary's unit tests (the window is the binary's, not the library's): the integration
//! tests' helpers are reached by path.

// Tests name paths in their own failure messages, raw (as tests/main.rs allows).
#![allow(clippy::disallowed_methods)]

#[path = "../../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use crate::app::tests::support::*;
use crate::app::{App, Filter};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sheetbridge::batch::RowStatus;
use sheetbridge::workspace::Folders;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// A fresh folder with a fixed name, so paths shown in snapshots are the same every run.
fn fixed_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("sheetbridge-window-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn harness(home: &Path) -> Harness<'static, App> {
    harness_sized(home, egui::vec2(1366.0, 768.0))
}

/// A window of `size`; the start screen lists `home/downloads` (empty unless a test fills it).
fn harness_sized(home: &Path, size: egui::Vec2) -> Harness<'static, App> {
    let dirs = Folders {
        config: Some(home.join("config")),
        data: Some(home.join("data")),
    };
    let mut app = App::new(&egui::Context::default(), dirs);
    let downloads = home.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    app.set_downloads(Some(downloads));
    Harness::builder()
        .with_size(size)
        .with_theme(egui::Theme::Light)
        .with_context_setup(crate::app::fonts::install)
        .build_ui_state(|ui, app: &mut App| app.show(ui), app)
}

/// Drops a file on the window (the same path a real drop takes) and waits for the load.
fn drop_file(h: &mut Harness<'static, App>, path: &Path) {
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(path.to_owned())));
    h.step();
    settle(h);
}

/// Steps until the background job is done and the window is still.
fn settle(h: &mut Harness<'static, App>) {
    for _ in 0..2000 {
        h.step();
        if !h.state().busy() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!h.state().busy(), "the job did not finish");
    h.run_steps(4);
}

/// Types into the search box.
fn search(h: &mut Harness<'static, App>, text: &str) {
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "搜索：")
        .focus();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "搜索：")
        .type_text(text);
    h.run_steps(3);
}

fn open_sample(dir: &Path) -> (Harness<'static, App>, PathBuf) {
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness(dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    (h, input)
}

#[test]
fn start_screen_invites_a_drop() {
    let dir = fixed_dir("start_screen_invites_a_drop");
    let mut h = harness(dir.as_path());
    h.run_steps(3);
    h.get_by_label("把导出的 Excel 拖到这里，或点击选择文件");
    h.get_by_label("今天还没有处理文件。");
    h.snapshot("start");
}

#[test]
fn dropping_an_export_shows_the_summary_and_rows() {
    let dir = fixed_dir("dropping_an_export_shows_the_summary_and_rows");
    let (mut h, _) = open_sample(dir.as_path());
    let s = h.state().batch().expect("the review screen").summary();
    assert_eq!((s.total, s.ready, s.rejected, s.duplicate), (41, 23, 17, 1));
    h.get_by_label("共 41 行");
    h.get_by_label("✓ 可上报 23");
    h.get_by_label("× 有错误 17");
    h.get_by_label("重复 1");
    h.get_by_label_contains("表头在第 3 行");
    h.get_by_label_contains("模板：省疾控核酸检测结果上报（自动识别");
    // Names with characters outside GB2312 are on screen (a missing glyph would panic).
    h.get_by_label("张喆");
    h.snapshot("review");
}

#[test]
fn filtering_to_rows_with_problems() {
    let dir = fixed_dir("filtering_to_rows_with_problems");
    let (mut h, _) = open_sample(dir.as_path());
    let all = h.state_mut().review().unwrap().visible_rows().len();
    assert_eq!(all, 41);
    h.get_by_label("只看有问题的行").click();
    h.run_steps(3);
    let review = h.state_mut().review().unwrap();
    assert_eq!(review.filter, Filter::Problems);
    let shown = review.visible_rows().to_vec();
    let b = &review.batch;
    let with_problems = (0..b.len()).filter(|&i| !b.issues(i).is_empty()).count();
    assert_eq!(shown.len(), with_problems);
    assert!(shown.iter().all(|&i| !b.issues(i as usize).is_empty()));
    // The error count is a button that filters too.
    h.get_by_label("× 有错误 17").click();
    h.run_steps(3);
    let review = h.state_mut().review().unwrap();
    assert_eq!(review.visible_rows().len(), 17);
}

#[test]
fn fixing_an_invalid_id_makes_the_row_ready() {
    let dir = fixed_dir("fixing_an_invalid_id_makes_the_row_ready");
    let (mut h, _) = open_sample(dir.as_path());
    let (index, fixed) = {
        let b = h.state().batch().unwrap();
        let i = b.index_of_line(15).unwrap();
        assert_eq!(b.status(i), RowStatus::Rejected);
        let wrong = b.value(i, 2).to_owned();
        (i, format!("{}{}", &wrong[..17], check_char(&wrong[..17])))
    };
    // Find the row, click its number, then fix 证件号码 in the editor and save.
    search(&mut h, "15");
    h.get_by_label("15").click();
    h.run_steps(3);
    h.get_by_label("第 15 行");
    let field = h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码");
    field.focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码")
        .type_text(&fixed);
    h.run_steps(1);
    h.get_by_label("保存修改").click();
    h.run_steps(3);
    let b = h.state().batch().unwrap();
    assert_eq!(b.value(index, 2), fixed);
    assert_eq!(b.status(index), RowStatus::Ready, "{:?}", b.issues(index));
    assert!(b.is_edited(index));
    h.get_by_label("✓ 可上报 24");
    h.snapshot("review_fixed");
}

#[test]
fn excluding_a_row_and_taking_it_back() {
    let dir = fixed_dir("excluding_a_row_and_taking_it_back");
    let (mut h, _) = open_sample(dir.as_path());
    search(&mut h, "21");
    h.get_by_label("21").click();
    h.run_steps(3);
    h.get_by_label("不上报此行").click();
    h.run_steps(3);
    let b = h.state().batch().unwrap();
    let i = b.index_of_line(21).unwrap();
    assert_eq!(b.status(i), RowStatus::Excluded);
    assert_eq!(b.summary().excluded, 1);
    h.get_by_label("不上报 1");
    h.get_by_label("恢复上报此行").click();
    h.run_steps(3);
    assert_eq!(h.state().batch().unwrap().summary().excluded, 0);
}

#[test]
fn exporting_writes_the_upload_sheet_and_the_rejected_rows() {
    let dir = fixed_dir("exporting_writes_the_upload_sheet_and_the_rejected_rows");
    let (mut h, input) = open_sample(dir.as_path());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.step();
    settle(&mut h);
    let upload = dir.as_path().join("样例_上报.xlsx");
    let rows = read_text_sheet(&upload);
    assert_eq!(rows.len(), 24, "header + 23 ready rows");
    assert_eq!(rows[0][2], "证件号码");
    let rejected = read_back(&dir.as_path().join("样例_错误行.xlsx"));
    assert_eq!(rejected[0].1.len(), 18, "header + 17 rejected rows");
    h.get_by_label_contains("已导出上报表");
    h.get_by_label("打开所在文件夹");
    // The review is still there, and the source is untouched.
    assert!(h.state().batch().is_some_and(|b| b.len() == 41));
    assert!(input.exists());
}

#[test]
fn unknown_headers_lead_to_the_mapping_screen_and_a_saved_profile() {
    let dir = fixed_dir("unknown_headers_lead_to_the_mapping_screen_and_a_saved_profile");
    let input = dir.as_path().join("某系统导出.xlsx");
    let mut rows = simple_rows(3);
    // This system calls 姓名 "受检人" and 联系电话 "本人电话": not aliases of the template.
    rows[0][0] = t("受检人");
    rows[0][5] = t("本人电话");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", rows)]);
    let mut h = harness(dir.as_path());
    h.run_steps(2);
    drop_file(&mut h, &input);
    assert!(h.state_mut().mapping().is_some(), "mapping screen");
    h.get_by_label_contains("没有认出这个文件的表头");
    // "本人电话" is guessed for 联系电话 (it contains the alias 电话); 姓名 is left to the clerk.
    assert_eq!(h.state_mut().mapping().unwrap().choice[5], Some(5));
    h.get_by_label_contains("还需要选择：姓名");
    // Open the drop-down of 姓名 and pick the column, as a clerk would.
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "姓名")
        .click();
    h.run_steps(3);
    h.get_by_label_contains("第 1 列「受检人」").click();
    h.run_steps(3);
    assert_eq!(h.state_mut().mapping().unwrap().choice[0], Some(0));
    assert!(h.query_by_label_contains("还需要选择").is_none());
    h.snapshot("mapping");
    h.get_by_label("保存为新模板并继续").click();
    h.step();
    settle(&mut h);
    let saved = dir.as_path().join("config/profiles/某系统导出-模板.toml");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        text.contains("extends = \"cdc-nat\"")
            && text.contains("受检人")
            && text.contains("本人电话"),
        "{text}"
    );
    let b = h.state().batch().expect("loaded with the new profile");
    assert_eq!(b.summary().ready, 3);
    assert_eq!(b.profile().name, "某系统导出-模板");
    // Next time the same export is recognised by itself.
    let profiles =
        sheetbridge::profile::Profiles::load(Some(&dir.as_path().join("config/profiles")));
    let batch = sheetbridge::pipeline::load(&input, &profiles, &Default::default(), &()).unwrap();
    assert_eq!(batch.summary().ready, 3);
}

#[test]
fn settings_are_kept_between_runs() {
    let dir = fixed_dir("settings_are_kept_between_runs");
    let mut h = harness(dir.as_path());
    h.run_steps(2);
    h.get_by_label("设置").click();
    h.run_steps(3);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "本院名称（检测机构）")
        .focus();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "本院名称（检测机构）")
        .type_text("天河区人民医院");
    h.run_steps(1);
    h.get_by_label("保存设置").click();
    h.run_steps(3);
    let again = App::new(
        &egui::Context::default(),
        Folders {
            config: Some(dir.as_path().join("config")),
            data: None,
        },
    );
    assert_eq!(again.settings.lab, "天河区人民医院");
}

#[test]
fn english_is_one_setting_away() {
    let dir = fixed_dir("english_is_one_setting_away");
    let mut h = harness(dir.as_path());
    h.state_mut().settings.lang = sheetbridge::issue::Lang::En;
    h.run_steps(3);
    h.get_by_label("Drop the exported Excel file here, or click to choose it");
}

#[test]
fn uploading_from_the_window_sends_every_row_once_and_closing_asks_while_batches_wait() {
    use crate::app::tests::support::platform::{Config, Platform};
    use std::sync::atomic::Ordering;
    let dir = fixed_dir("upload");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(true, 5, 5000)).unwrap();
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness(&dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    // Settings as a clerk fills them: the platform, the user name, this session's password.
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    // The platform is down at first: the batch waits in the queue and closing asks.
    platform.switches().fail_503.store(1000, Ordering::SeqCst);
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 1 && app.runtime.uploads.last.is_some()
    });
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.run_steps(3);
    h.get_by_label("还有数据没有上传完");
    h.get_by_label("不关闭，继续上传").click();
    h.run_steps(3);
    assert!(h.query_by_label("还有数据没有上传完").is_none());
    // The platform comes back; "现在重试" ends the sender's backoff at once.
    platform.switches().fail_503.store(0, Ordering::SeqCst);
    h.get_by_label("现在重试（VPN 已连上时点这里）").click();
    h.run_steps(2);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 0 && app.runtime.uploads.confirmed() == (1, 23)
    });
    let rows = platform.rows();
    assert_eq!(rows.len(), 23);
    assert!(rows.iter().all(|r| r.2 == 1), "every row stored once");
    h.get_by_label_contains("省平台已确认 23 行");
    // Opened again, the same rows are marked as already uploaded and left out.
    drop_file(&mut h, &input);
    let b = h.state().batch().unwrap();
    assert_eq!(b.summary().ready, 0);
    assert_eq!(b.summary().duplicate, 24);
}

/// Steps the window until `done` holds (the sender works on its own thread), at most 60 s.
fn wait_for(h: &mut Harness<'static, App>, done: impl Fn(&App) -> bool) {
    let start = std::time::Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed().as_secs() < 60,
            "timed out waiting for the upload"
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.run_steps(3);
}

/// A city export with a merged title and an export time above a header no profile knows:
/// every column is guessed from its values, so one click saves the mapping.
fn titled_unknown_export(path: &Path, people: u32) {
    titled_export_headed(path, people, "人群类别");
}

/// The same export with `group` as the header of the crowd category column.
fn titled_export_headed(path: &Path, people: u32, group: &str) {
    let mut rows = vec![
        vec![t("广州市天河区核酸检测结果导出")],
        vec![t("导出时间：2022-01-10 16:00:00")],
        [
            "受检人",
            "证照",
            "ID",
            "男女",
            "岁数",
            "TEL",
            "T1",
            "T2",
            "结论",
            "tube",
            "点位",
            "实验室",
            group,
            "住处",
        ]
        .iter()
        .map(|h| t(h))
        .collect(),
    ];
    let names = [
        "王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴霞",
    ];
    for i in 0..people {
        let mut row = person(i, &format!("T{:010}", i / 10));
        row[0] = t(names[i as usize % names.len()]);
        if i % 3 == 0 {
            row[12] = t("学校师生");
        }
        rows.push(row);
    }
    let mut sheet = SheetSpec::new("Sheet1", rows);
    sheet.merges.push((0, 0, 0, 13));
    write_xlsx(path, &[sheet]);
}

#[test]
fn a_titled_unknown_export_is_mapped_with_its_header_row_and_guesses_in_one_click() {
    let dir = fixed_dir("titled_unknown_export");
    let input = dir.join("城市导出0110.xlsx");
    titled_unknown_export(&input, 10);
    let mut h = harness(&dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    let m = h.state_mut().mapping().expect("the mapping screen");
    // The title and the export time are passed over: the header is on row 3.
    assert_eq!(m.header_row(), 3);
    // Every field is guessed: 13 from the values, 人群类别 by its header.
    let want: Vec<Option<usize>> = (0..14).map(Some).collect();
    assert_eq!(m.choice, want);
    assert_eq!(
        m.reasons[2],
        Some(sheetbridge::guess::Reason::Values(
            sheetbridge::guess::Looks::IdNumber
        ))
    );
    h.get_by_label_contains("表头在第 3 行");
    h.get_by_label("猜测：像身份证号");
    h.get_by_label("猜测：像手机号");
    h.get_by_label("猜测：像检测结果（阴性/阳性）");
    assert!(h.query_by_label_contains("还需要选择").is_none());
    h.snapshot("mapping_titled");
    // Choosing another row as the header guesses again; choosing row 3 brings it all back.
    h.get_by_label("第 1 行").click();
    h.run_steps(2);
    assert_eq!(h.state_mut().mapping().unwrap().header_row(), 1);
    h.get_by_label_contains("还需要选择");
    h.get_by_label("第 3 行").click();
    // The save bar shrinks back once 还需要选择 is gone: let the layout settle.
    h.run_steps(4);
    assert_eq!(h.state_mut().mapping().unwrap().choice, want);
    // The one click: save and go on to the review.
    h.get_by_label("保存为新模板并继续").click();
    h.step();
    settle(&mut h);
    let b = h.state().batch().expect("loaded with the new profile");
    assert_eq!(b.source.header_row, 3);
    assert_eq!(b.summary().ready, 10, "{:?}", b.issues(0));
    assert_eq!(b.profile().name, "城市导出0110-模板");
}

#[test]
fn a_column_is_not_chosen_twice_and_taken_columns_are_marked() {
    let dir = fixed_dir("a_column_is_not_chosen_twice");
    let input = dir.join("城市导出.xlsx");
    titled_unknown_export(&input, 5);
    let mut h = harness(&dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    assert_eq!(h.state_mut().mapping().unwrap().choice[0], Some(0));
    // The drop-down of 联系电话 lists 受检人 as taken by 姓名, and has a search box.
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "联系电话")
        .scroll_to_me();
    h.run_steps(3);
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "联系电话")
        .click();
    h.run_steps(3);
    h.get_by_label_contains("第 1 列「受检人」").hover();
    assert!(
        h.query_by_label_contains("（已用于“姓名”）").is_some(),
        "taken columns are marked"
    );
    // The drop-down's search box has the keyboard; typing narrows the list.
    h.query_all_by_role(egui::accesskit::Role::TextInput)
        .find(|n| n.is_focused())
        .expect("the search box is focused")
        .type_text("受检");
    h.run_steps(3);
    assert!(h.query_by_label_contains("「TEL」").is_none());
    h.get_by_label_contains("第 1 列「受检人」").click();
    h.run_steps(3);
    let m = h.state_mut().mapping().unwrap();
    let phone = 5;
    assert_eq!(m.choice[phone], Some(0));
    assert_eq!(m.choice[0], None, "姓名 gave the column up");
    assert_eq!(
        m.choice.iter().filter(|c| **c == Some(0)).count(),
        1,
        "a column feeds one field"
    );
    h.get_by_label_contains("还需要选择：姓名");
}

#[test]
fn keys_move_through_the_rows_and_columns() {
    use egui::Key;
    let dir = fixed_dir("keys_move_through_the_rows");
    let (mut h, _) = open_sample(&dir);
    for _ in 0..3 {
        h.key_press(Key::ArrowDown);
        h.run_steps(1);
    }
    assert_eq!(h.state_mut().review().unwrap().cursor, Some(2));
    h.key_press(Key::PageDown);
    h.run_steps(1);
    assert_eq!(h.state_mut().review().unwrap().cursor, Some(14));
    h.key_press(Key::End);
    h.run_steps(2);
    let review = h.state_mut().review().unwrap();
    assert_eq!(review.cursor, Some(40));
    let last = review.visible_rows()[40];
    // The last row was scrolled into view.
    let line = review.batch.line(last as usize).to_string();
    assert!(
        h.query_all_by_label(&line)
            .any(|n| n.rect().min.x < 80.0 && n.rect().max.y <= 768.0),
        "row {line} is in view"
    );
    h.key_press(Key::Home);
    h.run_steps(1);
    h.key_press(Key::Enter);
    h.run_steps(2);
    let review = h.state_mut().review().unwrap();
    let first = review.visible_rows()[0] as usize;
    assert_eq!(review.selected, Some(first), "Enter opens the row");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert_eq!(
        h.state_mut().review().unwrap().selected,
        None,
        "Esc closes the panel"
    );
    // Right moves the columns; 行号, 姓名 and 状态 stay.
    h.key_press(Key::ArrowRight);
    h.key_press(Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state_mut().review().unwrap().first_column, 2);
    h.get_by_label("行号");
    h.get_by_label("姓名");
    h.get_by_label("状态");
    h.key_press(Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(h.state_mut().review().unwrap().first_column, 1);
    // Ctrl+F goes to the search box.
    h.key_press_modifiers(egui::Modifiers::COMMAND, Key::F);
    h.run_steps(2);
    assert!(
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, "搜索：")
            .is_focused()
    );
}

#[test]
fn the_panel_goes_to_the_first_field_with_a_problem() {
    let dir = fixed_dir("the_panel_goes_to_the_first_field_with_a_problem");
    let (mut h, _) = open_sample(&dir);
    // A row whose first problem is far down the list of fields.
    let (line, caption) = {
        let review = h.state_mut().review().unwrap();
        let b = &review.batch;
        let (i, f) = (0..b.len())
            .filter_map(|i| review.first_problem_field(i).map(|f| (i, f)))
            .max_by_key(|&(_, f)| f)
            .unwrap();
        assert!(f >= 5, "the sample has a problem below the fold");
        let header = &b.profile().fields[f].header;
        let source = b.column_header(f);
        let caption = if source == header {
            header.clone()
        } else {
            format!("{header}（{source}）")
        };
        (b.line(i), caption)
    };
    search(&mut h, &line.to_string());
    h.get_by_label(&line.to_string()).click();
    h.run_steps(4);
    let field = h.get_by_role_and_label(egui::accesskit::Role::TextInput, &caption);
    assert!(field.is_focused(), "{caption} has the keyboard");
    let r = field.rect();
    assert!(
        r.min.y >= 0.0 && r.max.y <= 768.0,
        "{caption} is in view: {r:?}"
    );
}

#[test]
fn the_downloads_list_opens_the_newest_export_in_one_click() {
    let dir = fixed_dir("the_downloads_list");
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let older = downloads.join("上周的导出.xlsx");
    sample::write_sample(&older).unwrap();
    let week_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7 * 86400);
    std::fs::File::options()
        .write(true)
        .open(&older)
        .unwrap()
        .set_modified(week_ago)
        .unwrap();
    let newest = downloads.join("样例.xlsx");
    sample::write_sample(&newest).unwrap();
    std::fs::write(downloads.join("说明.pdf"), b"not a sheet").unwrap();
    let mut h = harness(&dir);
    for _ in 0..500 {
        h.step();
        if !h.state().reading_downloads() && !h.state().downloads().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.run_steps(2);
    let names: Vec<&str> = h
        .state()
        .downloads()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["样例.xlsx", "上周的导出.xlsx"],
        "newest first, no pdf"
    );
    h.get_by_label_contains("样例.xlsx    今天").click();
    h.step();
    settle(&mut h);
    let b = h.state().batch().expect("opened with one click");
    assert_eq!(b.source.path, newest);
    assert_eq!(b.len(), 41);
}

#[test]
fn the_path_box_opens_a_typed_path() {
    let dir = fixed_dir("the_path_box_opens_a_typed_path");
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness(&dir);
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "或者输入文件路径：")
        .focus();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "或者输入文件路径：")
        .type_text(&input.display().to_string());
    h.run_steps(1);
    h.get_by_label("打开").click();
    h.step();
    settle(&mut h);
    assert_eq!(h.state().batch().map(|b| b.len()), Some(41));
}

#[test]
fn a_failed_export_says_what_to_do_in_plain_words() {
    let dir = fixed_dir("a_failed_export_says_what_to_do");
    let (mut h, _) = open_sample(&dir);
    // A folder under a file: the system answers "Not a directory (os error 20)".
    let blocker = dir.join("不是文件夹.txt");
    std::fs::write(&blocker, b"x").unwrap();
    h.state_mut().review().unwrap().export_dir = blocker.join("导出");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.step();
    settle(&mut h);
    let notice = h.state().ui.notice.clone().expect("a message");
    assert!(notice.error);
    assert!(notice.text.contains("更换文件夹"), "{}", notice.text);
    let technical = ["os error", "Os {", "kind:", "Error", "error"];
    assert!(
        !technical.iter().any(|t| notice.text.contains(t)),
        "{}",
        notice.text
    );
    // The detail is kept for the log.
    assert!(
        h.state()
            .ui
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("os error"))
    );
    h.get_by_label(&notice.text);
}

/// Every control of the start, mapping and review screens (panel open) is inside a 1024×768
/// window and none overlaps another.
#[test]
fn every_control_fits_a_1024_by_768_screen() {
    let size = egui::vec2(1024.0, 768.0);
    let dir = fixed_dir("every_control_fits_1024");
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness_sized(&dir, size);
    h.run_steps(3);
    let top = ["打开文件 (Ctrl+O)", "上传队列", "设置", "关于"];
    let start: Vec<&str> = top
        .iter()
        .copied()
        .chain(["选择文件…", "打开", "查询上报记录"])
        .collect();
    assert_fit(&h, &start, size);
    h.snapshot("start_1024");
    drop_file(&mut h, &input);
    search(&mut h, "15");
    h.get_by_label("15").click();
    h.run_steps(3);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "搜索：")
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.key_press(egui::Key::Backspace);
    h.run_steps(3);
    let review: Vec<&str> = top
        .iter()
        .copied()
        .chain([
            "更换模板…",
            "共 41 行",
            "✓ 可上报 23",
            "× 有错误 17",
            "重复 1",
            "只看有问题的行",
            "右边的列 ▶",
            "◀ 左边的列",
            "保存修改",
            "不上报此行",
            "关闭",
            "导出上报表（23 行） Ctrl+S",
            "上传到省平台（23 行）",
            "更换文件夹…",
            "关闭此文件",
        ])
        .collect();
    assert_fit(&h, &review, size);
    h.snapshot("review_1024");
}

/// Each label is found, inside `size`, and overlaps no other.
fn assert_fit(h: &Harness<'static, App>, labels: &[&str], size: egui::Vec2) {
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, size);
    let rects: Vec<(&str, egui::Rect)> = labels
        .iter()
        .map(|l| (*l, h.get_by_label(l).rect()))
        .collect();
    for (l, r) in &rects {
        assert!(screen.contains_rect(*r), "{l} is outside the window: {r:?}");
    }
    for (i, (a, ra)) in rects.iter().enumerate() {
        for (b, rb) in &rects[i + 1..] {
            assert!(
                !ra.shrink(1.0).intersects(rb.shrink(1.0)),
                "{a} {ra:?} overlaps {b} {rb:?}"
            );
        }
    }
}

/// A name typed through a Chinese input method (what fcitx5, Sogou or Microsoft Pinyin send
/// through winit): the pinyin being composed is shown in the field, the committed characters
/// replace it and are what is saved, and the table's keys leave a focused field alone.
#[test]
fn a_name_typed_through_an_input_method_is_saved() {
    use egui::{Event, ImeEvent, Key};
    let dir = fixed_dir("a_name_typed_through_an_input_method");
    let (mut h, _) = open_sample(&dir);
    search(&mut h, "15");
    h.get_by_label("15").click();
    h.run_steps(3);
    let field = |h: &Harness<'static, App>| {
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, "姓名（受检者姓名）")
            .value()
            .unwrap_or_default()
    };
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "姓名（受检者姓名）")
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.run_steps(1);
    let cursor = h.state_mut().review().unwrap().cursor;
    for pinyin in ["w", "wang", "wang'w", "wang'wei"] {
        h.event(Event::Ime(ImeEvent::Preedit {
            text: pinyin.into(),
            active_range_chars: None,
        }));
        h.run_steps(1);
    }
    assert_eq!(field(&h), "wang'wei", "the composition shows in the field");
    h.event(Event::Ime(ImeEvent::Preedit {
        text: String::new(),
        active_range_chars: None,
    }));
    h.event(Event::Ime(ImeEvent::Commit("王伟".into())));
    h.run_steps(2);
    assert_eq!(field(&h), "王伟");
    // While a field has the keyboard, the arrows are the field's, not the table's.
    h.key_press(Key::ArrowDown);
    h.run_steps(1);
    assert_eq!(h.state_mut().review().unwrap().cursor, cursor);
    h.get_by_label("保存修改").click();
    h.run_steps(3);
    let b = h.state().batch().unwrap();
    let i = b.index_of_line(15).unwrap();
    assert_eq!(b.value(i, 0), "王伟");
}

/// The clerk's decisions outlive the window: a row left out and a fixed ID, exported, the app
/// dropped; the same file opened in a new app has both back (and says so), and uploading from
/// it sends neither the row left out nor the old value.
#[test]
fn decisions_are_restored_on_reopening_and_upload_follows_them() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("decisions_kept");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(true, 5, 5000)).unwrap();
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let (wrong, fixed, left_out_id) = {
        let mut h = harness(&dir);
        h.run_steps(2);
        drop_file(&mut h, &input);
        let (wrong, fixed) = {
            let b = h.state().batch().unwrap();
            let i = b.index_of_line(15).unwrap();
            let wrong = b.value(i, 2).to_owned();
            let fixed = format!("{}{}", &wrong[..17], check_char(&wrong[..17]));
            (wrong, fixed)
        };
        // Leave a ready row out: the first whose number finds it alone.
        let (line, left_out_id) = (2..42u32)
            .find_map(|line| {
                let b = h.state().batch().unwrap();
                let j = b.index_of_line(line)?;
                if b.status(j) != RowStatus::Ready {
                    return None;
                }
                let id = b.output_value(j, 2).to_owned();
                search_fresh(&mut h, &line.to_string());
                (h.query_all_by_label(&line.to_string()).count() == 1).then_some((line, id))
            })
            .unwrap();
        h.get_by_label(&line.to_string()).click();
        h.run_steps(3);
        h.get_by_label("不上报此行").click();
        h.run_steps(3);
        // Fix the ID of row 15.
        search_fresh(&mut h, "15");
        h.get_by_label("15").click();
        h.run_steps(3);
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码")
            .focus();
        h.run_steps(1);
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.run_steps(1);
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码")
            .type_text(&fixed);
        h.run_steps(1);
        h.get_by_label("保存修改").click();
        h.run_steps(3);
        // Closing the file now would ask: the changes are neither exported nor uploaded.
        assert!(h.state_mut().review().unwrap().keep.unsent_changes());
        // Export.
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
        h.step();
        settle(&mut h);
        h.get_by_label_contains("已导出上报表");
        assert!(!h.state_mut().review().unwrap().keep.unsent_changes());
        (wrong, fixed, left_out_id)
    };
    // A new app, the same file.
    let mut h = harness(&dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    h.get_by_label_contains("已恢复上次的 1 处修改和 1 行不上报");
    {
        let b = h.state().batch().unwrap();
        let i = b.index_of_line(15).unwrap();
        assert_eq!(b.value(i, 2), fixed);
        assert_eq!(b.status(i), RowStatus::Ready);
        assert_eq!(b.summary().excluded, 1);
        assert_eq!(b.summary().ready, 23);
    }
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 0 && app.runtime.uploads.confirmed() == (1, 23)
    });
    let rows = platform.rows();
    assert_eq!(rows.len(), 23);
    let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert!(ids.contains(&fixed.as_str()), "the fixed ID was sent");
    assert!(!ids.contains(&wrong.as_str()), "the old value was not");
    assert!(
        !ids.contains(&left_out_id.as_str()),
        "the row left out was not"
    );
}

/// Replaces the search text.
fn search_fresh(h: &mut Harness<'static, App>, text: &str) {
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "搜索：")
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "搜索：")
        .type_text(text);
    h.run_steps(3);
}

/// Puts `from` into `folder` as `name`, written a minute ago: settled, as a file a browser
/// finished saving is (moved in whole, so no watcher sees it half-written).
fn put_settled(from: &Path, folder: &Path, name: &str) -> PathBuf {
    let staged = from.with_extension("staged");
    std::fs::copy(from, &staged).unwrap();
    let f = std::fs::File::options().write(true).open(&staged).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
    drop(f);
    let to = folder.join(name);
    std::fs::rename(&staged, &to).unwrap();
    to
}

/// Five valid people no other test file has.
fn five_people(path: &Path) {
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect::<Vec<_>>()];
    for i in 0..5 {
        rows.push(person(700 + i, "T7000000001"));
    }
    write_xlsx(path, &[SheetSpec::new("Sheet1", rows)]);
}

/// Issue 13: 自动上报 switched on in settings, a file put in the folder is sent and shown on
/// the start screen, with the one that needs the clerk one click away; a file open in the
/// review screen is left alone until it is closed.
#[test]
fn unattended_reporting_sends_new_files_and_leaves_an_open_one_until_it_is_closed() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("unattended");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(true, 5, 5000)).unwrap();
    let watched = dir.join("待上报");
    std::fs::create_dir_all(&watched).unwrap();
    let sample_file = dir.join("sample.xlsx");
    sample::write_sample(&sample_file).unwrap();
    let five = dir.join("five.xlsx");
    five_people(&five);
    let mut h = harness(&dir);
    h.run_steps(2);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    h.state_mut().settings.auto.folder = Some(watched.clone());
    // The clerk opens a file of the folder before unattended reporting is on.
    let open_one = put_settled(&five, &watched, "五人.xlsx");
    drop_file(&mut h, &open_one);
    assert_eq!(h.state().batch().unwrap().summary().ready, 5);
    // 自动上报 switched on in settings.
    h.get_by_label("设置").click();
    h.run_steps(3);
    h.get_by_label("自动上报（窗口开着时，放进下面文件夹的导出表自动上报）")
        .click();
    h.run_steps(1);
    h.get_by_label("保存设置").click();
    h.run_steps(3);
    assert!(h.state().settings.auto.on);
    // A new export lands in the folder: it is sent without a click (23 ready rows; the rows
    // with errors wait in 需要处理 with the errors workbook).
    put_settled(&sample_file, &watched, "样例.xlsx");
    wait_for(&mut h, |app| {
        platform.rows().len() == 23
            && app.runtime.uploads.pending() == 0
            && app.unattended().claimed == ["五人.xlsx"]
    });
    assert!(watched.join("需要处理/样例.xlsx").is_file());
    assert!(watched.join("需要处理/样例_错误行.xlsx").is_file());
    assert!(
        open_one.is_file(),
        "the file open in the window was not touched"
    );
    // Closed, it is sent: five more rows, each row on the platform once.
    h.get_by_label("关闭此文件").click();
    h.run_steps(3);
    wait_for(&mut h, |app| {
        platform.rows().len() == 28
            && app.runtime.uploads.pending() == 0
            && app.unattended().today.len() == 2
    });
    assert!(
        platform.rows().iter().all(|r| r.2 == 1),
        "every row stored once"
    );
    assert!(!open_one.exists(), "it moved to 已处理");
    // The start screen says what was done today; the file to fix opens in one click.
    h.get_by_label_contains("今天自动处理了 2 个文件");
    h.get_by_label_contains("五人.xlsx：共 5 行，可上报 5");
    h.get_by_label("核对并上报：样例.xlsx").click();
    h.step();
    settle(&mut h);
    let b = h.state().batch().expect("the review screen");
    assert_eq!(b.summary().rejected, 17);
    assert_eq!(b.summary().ready, 0, "its ready rows were sent already");
}

/// Issue 11, points 7 and 8: the queue shows one card per file and day (no batch id in its
/// main line), and a failed upload says what to do in plain words, the network library's
/// text left to the log.
#[test]
fn the_queue_is_grouped_by_file_and_a_failed_upload_is_said_in_plain_words() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("queue_grouped");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    // Nothing listens on this port: the connection is refused (as with the VPN down).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let toml = platform
        .target_toml(true, 5, 5000)
        .replace(&platform.base_url(), &format!("http://{closed}"));
    let target = dir.join("stand.toml");
    std::fs::write(&target, toml).unwrap();
    let (mut h, _) = open_sample(&dir);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.last.is_some() && app.runtime.uploads.pending() == 1
    });
    let id = h.state().runtime.uploads.records[0].id.clone();
    h.get_by_label_contains("样例.xlsx · 今天");
    h.get_by_label_contains("· 23 行");
    h.get_by_label("等待 1");
    // The message says what to do, once, in plain words.
    assert!(h.query_all_by_label_contains("请检查 VPN").count() >= 1);
    for raw in [
        "error sending",
        "tcp connect",
        "os error",
        "client error",
        "Connection refused",
    ] {
        assert_eq!(
            h.query_all_by_label_contains(raw).count(),
            0,
            "raw text {raw:?} reached the clerk"
        );
    }
    assert_eq!(
        h.query_all_by_label_contains(&id[..8]).count(),
        0,
        "no batch id in the main line"
    );
    // The id is there for support, under 详情.
    h.get_by_label("详情（给技术支持看）").click();
    h.run_steps(3);
    h.get_by_label_contains(&id);
}

/// Issue 8: batches wait after a wrong password; the password corrected in settings, they go
/// by themselves, each row once.
#[test]
fn a_corrected_password_resumes_sending_and_each_row_goes_once() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("password_corrected");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(false, 5, 10)).unwrap();
    let (mut h, _) = open_sample(&dir);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "wrong".into();
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        !app.runtime.uploads.sending
            && app.runtime.uploads.pending() == 3
            && app
                .runtime
                .uploads
                .last
                .as_ref()
                .is_some_and(|l| l.0.contains("拒绝登录"))
    });
    assert!(platform.rows().is_empty());
    // The clerk corrects the password in settings and saves: nothing else to press.
    h.get_by_label("设置").click();
    h.run_steps(3);
    let field = "密码（只在这次打开期间记住）";
    h.get_by_role_and_label(egui::accesskit::Role::PasswordInput, field)
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::PasswordInput, field)
        .type_text("demo");
    h.run_steps(1);
    h.get_by_label("保存设置").click();
    h.run_steps(3);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 0 && app.runtime.uploads.confirmed() == (3, 23)
    });
    let rows = platform.rows();
    assert_eq!(rows.len(), 23);
    assert!(rows.iter().all(|r| r.2 == 1), "every row stored once");
    assert!(
        h.state()
            .runtime
            .uploads
            .last
            .as_ref()
            .is_none_or(|l| !l.0.contains("拒绝登录")),
        "the stale error went"
    );
}

/// A home whose config folder trusts a key made here, and a pack `file` of the profile `city`
/// titled `title`, signed with that key.
fn signed_pack_home(file: &str, title: &str) -> (tempfile::TempDir, PathBuf) {
    let home = tmp();
    let signer = crate::app::tests::support::pack::Signer::new();
    signer.trust_in(home.path());
    let pack = home.path().join(file);
    crate::app::tests::support::pack::make_pack(
        &pack,
        "city",
        "1.0",
        &[(
            "profiles/city.toml",
            &crate::app::tests::support::pack::profile_text(title),
        )],
    );
    signer.sign(&pack);
    (home, pack)
}

#[test]
fn dropping_a_signed_pack_installs_its_profile_and_says_so() {
    let (home, pack) = signed_pack_home("city-1.sbpack", "城市版一");
    let mut h = harness(home.path());
    h.run_steps(2);
    drop_file(&mut h, &pack);
    wait_for(&mut h, |app| app.ui.notice.is_some());
    let notice = h.state().ui.notice.clone().unwrap();
    assert!(!notice.error, "{}", notice.text);
    assert!(
        notice.text.contains("已安装模板包「city」版本 1.0"),
        "{}",
        notice.text
    );
    // The window says so, and the profile is installed and in use at once (关于 lists it).
    h.get_by_label_contains("已安装模板包「city」版本 1.0");
    let installed = std::fs::read_to_string(home.path().join("config/profiles/city.toml")).unwrap();
    assert!(installed.contains("城市版一"));
    h.get_by_label("关于").click();
    h.run_steps(3);
    h.get_by_label_contains("城市版一（city）");
    h.get_by_label_contains("city 版本 1.0");
    // Nothing was read as data: the start screen stays.
    assert!(h.state().batch().is_none());
}

#[test]
fn a_tampered_pack_dropped_on_the_window_is_refused_naming_the_check() {
    let (home, pack) = signed_pack_home("city-1.sbpack", "城市版一");
    let mut bytes = std::fs::read(&pack).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&pack, bytes).unwrap();
    let mut h = harness(home.path());
    h.run_steps(2);
    drop_file(&mut h, &pack);
    wait_for(&mut h, |app| app.ui.notice.is_some());
    let notice = h.state().ui.notice.clone().unwrap();
    assert!(notice.error, "{}", notice.text);
    assert!(notice.text.contains("签名校验"), "{}", notice.text);
    h.get_by_label_contains("签名校验");
    assert!(!home.path().join("config/profiles/city.toml").exists());
}

/// The row the keys and buttons act on is the row whose fields are in the panel, even when a save
/// takes that row out of the filtered view: ↓ after 保存修改 goes to the next row on screen, not
/// the one after it, and 不上报此行 then leaves out that person.
#[test]
fn in_a_filtered_view_the_row_acted_on_is_the_row_shown() {
    let dir = fixed_dir("in_a_filtered_view_the_row_acted_on_is_the_row_shown");
    let (mut h, _) = open_sample(dir.as_path());
    // Lines 4, 5, 7..13 and 17 have a phone number with "80013800" in it.
    search(&mut h, "80013800");
    let (edited, next, after) = {
        let review = h.state_mut().review().unwrap();
        let view = review.visible_rows().to_vec();
        let b = &review.batch;
        let lines: Vec<u32> = view.iter().map(|&i| b.line(i as usize)).collect();
        assert_eq!(lines[..5], [4, 5, 7, 8, 9], "{lines:?}");
        let name = |line: u32| b.value(b.index_of_line(line).unwrap(), 0).to_owned();
        (name(8), name(9), name(10))
    };
    h.get_by_label("8").click();
    h.run_steps(3);
    h.get_by_label("第 8 行");
    // A new phone number takes the row out of the search.
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "联系电话（联系方式）")
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "联系电话（联系方式）")
        .type_text("13912345678");
    h.run_steps(1);
    h.get_by_label("保存修改").click();
    h.run_steps(3);
    {
        let review = h.state_mut().review().unwrap();
        let selected = review.selected;
        assert_eq!(selected, review.batch.index_of_line(8));
        assert_eq!(
            review.cursor_row(),
            selected,
            "the highlight left the row in the panel"
        );
    }
    h.get_by_label("第 8 行");
    // The next row on screen, then leave it out.
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(3);
    h.get_by_label("第 9 行");
    h.get_by_label("不上报此行").click();
    h.run_steps(3);
    {
        let review = h.state_mut().review().unwrap();
        let selected = review.selected;
        assert_eq!(selected, review.batch.index_of_line(9));
        assert_eq!(review.cursor_row(), selected);
    }
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.step();
    settle(&mut h);
    let rows = read_text_sheet(&dir.as_path().join("样例_上报.xlsx"));
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert!(
        !names.contains(&next.as_str()),
        "{next} was left out: {names:?}"
    );
    assert!(names.contains(&after.as_str()), "{after} stays: {names:?}");
    let edited_row = rows
        .iter()
        .find(|r| r[0] == edited)
        .expect("the edited row");
    assert!(
        edited_row.contains(&"13912345678".to_owned()),
        "{edited_row:?}"
    );
}

/// Coded fields read as words in the table and the panel (the labels come from the profile's
/// `[[id_types]]` and `map`); the codes go to the upload sheet only, also after a save.
#[test]
fn coded_fields_show_their_words_and_the_sheet_gets_the_codes() {
    let dir = fixed_dir("coded_fields_show_their_words_and_the_sheet_gets_the_codes");
    let (mut h, _) = open_sample(dir.as_path());
    h.run_steps(2);
    // The table: 居民身份证 and 男/女, never 01 or 1/2.
    assert!(h.query_all_by_label("居民身份证").count() >= 5);
    assert!(h.query_all_by_label("男").count() >= 3);
    assert!(h.query_all_by_label("女").count() >= 3);
    for code in ["01", "1", "2"] {
        assert_eq!(h.query_all_by_label(code).count(), 0, "{code} on screen");
    }
    // The panel: the same words in the fields.
    let (index, fixed) = {
        let b = h.state().batch().unwrap();
        let i = b.index_of_line(15).unwrap();
        let wrong = b.value(i, 2).to_owned();
        (i, format!("{}{}", &wrong[..17], check_char(&wrong[..17])))
    };
    search(&mut h, "15");
    h.get_by_label("15").click();
    h.run_steps(3);
    let value = |h: &Harness<'static, App>, label: &str| {
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, label)
            .value()
            .unwrap_or_default()
    };
    assert_eq!(value(&h, "证件类型（证件类别）"), "居民身份证");
    assert_eq!(value(&h, "性别"), "女");
    // Fix the ID and save: the words in the panel do not count as an edit of those fields.
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码")
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码")
        .type_text(&fixed);
    h.run_steps(1);
    h.get_by_label("保存修改").click();
    h.run_steps(3);
    {
        let b = h.state().batch().unwrap();
        assert_eq!(b.status(index), RowStatus::Ready, "{:?}", b.issues(index));
        assert_eq!((b.value(index, 1), b.value(index, 3)), ("01", "2"));
    }
    assert_eq!(value(&h, "证件类型（证件类别）"), "居民身份证");
    assert_eq!(value(&h, "性别"), "女");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.step();
    settle(&mut h);
    let rows = read_text_sheet(&dir.as_path().join("样例_上报.xlsx"));
    let row = rows.iter().find(|r| r[2] == fixed).expect("the fixed row");
    assert_eq!((row[1].as_str(), row[3].as_str()), ("01", "2"), "{row:?}");
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == "01" && (r[3] == "1" || r[3] == "2"))
    );
}

/// Text copied in another program pastes in the window, and text copied in the window reaches
/// other programs: the clipboard eframe gives the window (egui-winit's) against xclip, both on
/// an X server of the test's own (Xvfb). Without eframe's `clipboard` feature the window's
/// clipboard only lives inside the program.
#[test]
fn the_clipboard_is_shared_with_other_programs() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    // A fresh machine has neither (`.ci/run` installs both): said past the capture, not failed.
    for tool in ["Xvfb", "xclip"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| !s.success())
        {
            let _ = writeln!(
                std::io::stderr(),
                "\nSKIPPED the_clipboard_is_shared_with_other_programs: {tool} is not installed\n"
            );
            return;
        }
    }
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            "640x480x24",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (the window tests need it)");
    let mut number = String::new();
    BufReader::new(xvfb.stdout.take().unwrap())
        .read_line(&mut number)
        .unwrap();
    let display = format!(":{}", number.trim());
    let from_outside = "粘贴测试 王伟 440106195001010015";
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard", "-i"])
        .env("DISPLAY", &display)
        .stdin(Stdio::piped())
        .spawn()
        .expect("xclip");
    xclip
        .stdin
        .take()
        .unwrap()
        .write_all(from_outside.as_bytes())
        .unwrap();
    assert!(xclip.wait().unwrap().success());
    // The window's side runs in a process of its own, on that display.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "app::tests::clipboard_side",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("SHEETBRIDGE_CLIPBOARD_SIDE", "1")
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pasted = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(text) = line.strip_prefix("PASTED:") {
            pasted = Some(text.to_owned());
        }
        if line == "COPIED" {
            break;
        }
    }
    let copied = Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .env("DISPLAY", &display)
        .output()
        .unwrap();
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert_eq!(
        pasted.as_deref(),
        Some(from_outside),
        "Ctrl+V in the window"
    );
    assert_eq!(
        String::from_utf8_lossy(&copied.stdout),
        "复制测试 第 15 行",
        "Ctrl+C in the window"
    );
}

/// The window's side of `the_clipboard_is_shared_with_other_programs` (does nothing alone).
#[test]
#[ignore = "run by the_clipboard_is_shared_with_other_programs, on its own X server"]
fn clipboard_side() {
    use std::io::Read;
    if std::env::var_os("SHEETBRIDGE_CLIPBOARD_SIDE").is_none() {
        return;
    }
    // SAFETY: no display handle is passed, so there is none to outlive.
    let mut clipboard = unsafe { egui_winit::clipboard::Clipboard::new(None) };
    println!("PASTED:{}", clipboard.get().unwrap_or_default());
    clipboard.set_text("复制测试 第 15 行".to_owned());
    println!("COPIED");
    // X11 serves the copied text from this process: stay until the test has read it.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// 选择文件… and Ctrl+O where no file dialog answers (no portal, no zenity): the window says so
/// and puts the keyboard in the path box, on the start screen and over the review.
#[test]
fn without_a_file_dialog_choosing_a_file_offers_the_path_box() {
    let dir = fixed_dir("without_a_file_dialog_choosing_a_file_offers_the_path_box");
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness(&dir);
    h.state_mut().set_file_dialog(|_| None);
    h.run_steps(2);
    h.get_by_label("选择文件…").click();
    h.run_steps(3);
    h.get_by_label_contains("打不开选择文件的窗口");
    let path_box = "或者输入文件路径：";
    assert!(
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, path_box)
            .is_focused(),
        "the keyboard is in the path box"
    );
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, path_box)
        .type_text(&input.display().to_string());
    h.key_press(egui::Key::Enter);
    h.step();
    settle(&mut h);
    assert_eq!(h.state().batch().map(|b| b.len()), Some(41));
    // Over the review: Ctrl+O offers the path box in a window.
    h.state_mut().set_file_dialog(|_| None);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::O);
    h.run_steps(3);
    h.get_by_label_contains("打不开选择文件的窗口");
    assert!(
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, path_box)
            .is_focused()
    );
    let other = dir.join("另一个.xlsx");
    std::fs::copy(&input, &other).unwrap();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, path_box)
        .type_text(&other.display().to_string());
    h.run_steps(1);
    h.get_by_label("打开").click();
    h.step();
    settle(&mut h);
    assert!(h.state().batch().is_some_and(|b| b.source.path == other));
    assert_eq!(
        h.query_all_by_role_and_label(egui::accesskit::Role::TextInput, path_box)
            .count(),
        0,
        "the window goes once the file is open"
    );
}

/// An upload asked for before the password was given: the clerk types it and presses Enter in
/// the password field; the settings are saved, the upload that was asked for goes on, and the
/// notice that asked for the settings goes.
#[test]
fn saving_the_settings_an_upload_asked_for_carries_on_with_the_upload() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("saving_the_settings_an_upload_asked_for");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(true, 5, 5000)).unwrap();
    let (mut h, _) = open_sample(&dir);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.get_by_label("上传到省平台（23 行）").click();
    h.run_steps(3);
    h.get_by_label_contains("要上传，请先在“设置”里");
    let field = "密码（只在这次打开期间记住）";
    h.get_by_role_and_label(egui::accesskit::Role::PasswordInput, field)
        .focus();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::PasswordInput, field)
        .type_text("demo");
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 0 && app.runtime.uploads.confirmed() == (1, 23)
    });
    assert_eq!(platform.rows().len(), 23);
    assert!(
        h.query_by_label_contains("要上传，请先在“设置”里")
            .is_none()
    );
    assert!(
        h.query_by_label("保存设置").is_none(),
        "the settings closed"
    );
}

/// Waits until the start screen's list of downloads has been read.
fn downloads_read(h: &mut Harness<'static, App>) {
    for _ in 0..500 {
        h.step();
        if !h.state().reading_downloads() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.run_steps(2);
}

#[test]
fn the_programs_own_files_are_not_offered_and_opening_one_says_what_it_is() {
    let dir = fixed_dir("own_files");
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let export = downloads.join("样例.xlsx");
    sample::write_sample(&export).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&export)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    // Newer than the export, each of them: by name, and by content under any name.
    let sheet = downloads.join("样例_上报.xlsx");
    sample::write_sample(&sheet).unwrap();
    let errors = downloads.join("样例_错误行.xlsx");
    sample::write_sample(&errors).unwrap();
    std::fs::write(downloads.join("样例_说明.txt"), "读不了").unwrap();
    let renamed = downloads.join("今天的数据.xlsx");
    std::fs::write(&renamed, format!("{:?}", std::time::SystemTime::now())).unwrap();
    sheetbridge::unattended::journal::record_written(&dir.join("data"), &[renamed.as_path()])
        .unwrap();
    let mut h = harness(&dir);
    downloads_read(&mut h);
    let names: Vec<&str> = h
        .state()
        .downloads()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["样例.xlsx"], "only the city's export is offered");

    for (file, says) in [
        (&sheet, "这是本程序导出的上报表，不是城市系统的导出文件"),
        (&errors, "这是本程序导出的错误行表"),
        (&renamed, "这是本程序自己写出的文件"),
    ] {
        drop_file(&mut h, file);
        assert!(
            h.state().batch().is_none(),
            "{file:?} was not read as an export"
        );
        assert!(h.state_mut().mapping().is_none());
        let notice = h.state().ui.notice.clone().expect("a message");
        assert!(notice.text.contains(says), "{}", notice.text);
        h.get_by_label_contains(says);
    }
    // The export itself still opens.
    drop_file(&mut h, &export);
    assert_eq!(h.state().batch().expect("opened").len(), 41);
}

#[test]
fn a_category_column_under_an_unknown_header_is_guessed_from_its_values() {
    let dir = fixed_dir("category_by_values");
    let input = dir.join("城市导出0111.xlsx");
    titled_export_headed(&input, 10, "人员分组");
    let mut h = harness(&dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    let m = h.state_mut().mapping().expect("the mapping screen");
    let want: Vec<Option<usize>> = (0..14).map(Some).collect();
    assert_eq!(m.choice, want, "人员分组 is chosen for 人群分类 too");
    assert_eq!(
        m.reasons[12],
        Some(sheetbridge::guess::Reason::Values(
            sheetbridge::guess::Looks::Category
        ))
    );
    h.get_by_label("猜测：像人群分类");
    assert!(h.query_by_label_contains("还需要选择").is_none());
}

/// Each file waiting in 需要处理 says on the start screen why: 读不了, 没有模板认得, or how
/// many rows have errors.
#[test]
fn files_to_fix_say_their_reason_on_the_start_screen() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("to_fix_reasons");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(true, 5, 5000)).unwrap();
    let watched = dir.join("待上报");
    std::fs::create_dir_all(&watched).unwrap();
    let sample_file = dir.join("sample.xlsx");
    sample::write_sample(&sample_file).unwrap();
    let unknown = dir.join("unknown.xlsx");
    titled_unknown_export(&unknown, 5);
    let broken = dir.join("broken.xlsx");
    std::fs::write(&broken, b"PK\x03\x04 not really a workbook").unwrap();
    let mut h = harness(&dir);
    h.run_steps(2);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    h.state_mut().settings.auto.folder = Some(watched.clone());
    h.get_by_label("设置").click();
    h.run_steps(3);
    h.get_by_label("自动上报（窗口开着时，放进下面文件夹的导出表自动上报）")
        .click();
    h.run_steps(1);
    h.get_by_label("保存设置").click();
    h.run_steps(3);
    put_settled(&sample_file, &watched, "样例.xlsx");
    put_settled(&unknown, &watched, "新格式.xlsx");
    put_settled(&broken, &watched, "坏文件.xlsx");
    wait_for(&mut h, |app| {
        app.unattended().to_fix.len() == 3 && app.runtime.uploads.pending() == 0
    });
    h.run_steps(3);
    for (name, why) in [
        ("样例.xlsx", "17 行有错误：打开改正后上传"),
        ("新格式.xlsx", "没有模板认得：打开后对应各列"),
        ("坏文件.xlsx", "读不了：请从城市系统重新导出"),
    ] {
        h.get_by_label(&format!("核对并上报：{name}"));
        h.get_by_label_contains(why);
    }
    assert!(
        h.query_by_label_contains("有错误的行没有上报").is_none(),
        "an unreadable file is not said to have rows with errors"
    );
    // The file no template knew: mapped, uploaded whole, and its line goes.
    h.get_by_label("核对并上报：新格式.xlsx").click();
    h.step();
    settle(&mut h);
    assert!(h.state_mut().mapping().is_some(), "the mapping screen");
    h.get_by_label("保存为新模板并继续").click();
    h.step();
    settle(&mut h);
    assert_eq!(h.state().batch().expect("review").summary().ready, 5);
    h.get_by_label("上传到省平台（5 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        platform.rows().len() == 28
            && app.runtime.uploads.pending() == 0
            && app.unattended().to_fix.len() == 2
    });
    h.get_by_label("关闭此文件").click();
    h.run_steps(3);
    assert!(h.query_by_label("核对并上报：新格式.xlsx").is_none());
    h.get_by_label("核对并上报：样例.xlsx");
}

#[test]
fn the_window_looks_up_an_upload() {
    use crate::app::tests::support::platform::{Config, Platform};
    use crate::app::tests::support::{SheetSpec, person, simple_rows, write_xlsx};
    use egui::accesskit::Role;
    use sheetbridge::credentials::{Finder, Store};
    use sheetbridge::workspace::{self, FileState, Workspace};
    use std::sync::atomic::Ordering;
    // A home whose upload of 20 people went to the stand-in (10 rows a batch); the first
    // batch met a 503 and is still queued.
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
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(20))]);
    platform.switches().fail_503.store(1, Ordering::SeqCst);
    let folders = Folders {
        data: Some(h.join("data")),
        config: Some(h.join("config")),
    };
    let target = folders.target("stand").unwrap();
    let profiles = folders.profiles();
    let loaded = workspace::load(
        &folders,
        &profiles,
        &input,
        Default::default(),
        Some(&target),
        &(),
    )
    .unwrap();
    let keys = Finder::new(
        Store::file_only(None),
        Arc::new(|k: &str| match k {
            "SHEETBRIDGE_USER" | "SHEETBRIDGE_PASSWORD" => Some("demo".to_owned()),
            _ => None,
        }),
    );
    let mut ws = Workspace::open(folders, 7).unwrap();
    let up = ws
        .upload(
            &target,
            &loaded.batch,
            &keys,
            std::time::Duration::ZERO,
            &mut |_: &sheetbridge::upload::outbox::BatchRecord,
                  _: &sheetbridge::upload::client::Outcome| {},
        )
        .unwrap();
    assert_eq!(up.state(), FileState::Queued);
    drop(ws);
    let id_of = |i: u32| match &person(i, "T")[2] {
        crate::app::tests::support::V::T(id) => id.clone(),
        _ => unreachable!(),
    };

    let dirs = Folders {
        config: Some(h.join("config")),
        data: Some(h.join("data")),
    };
    let app = App::new(&egui::Context::default(), dirs);
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1366.0, 768.0))
        .with_context_setup(crate::app::fonts::install)
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    harness.run_steps(2);
    harness.get_by_label("查询上报记录").click();
    harness.run_steps(5);
    assert!(harness.state().ui.lookup.open, "the lookup window opens");
    // The cursor is in the search box (daily.md): the clerk types at once.
    assert!(
        harness
            .get_by_role_and_label(Role::TextInput, "证件号码、条码号或姓名")
            .is_focused(),
        "the search box has the cursor when the lookup opens"
    );
    let ask = |harness: &mut Harness<'_, App>, value: &str| {
        let field = harness.get_by_role_and_label(Role::TextInput, "证件号码、条码号或姓名");
        field.focus();
        harness.run_steps(1);
        harness.state_mut().ui.lookup.value.clear();
        harness
            .get_by_role_and_label(Role::TextInput, "证件号码、条码号或姓名")
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

/// Counts what the clerk does: every key press (a combination is one press, every character
/// typed is one) and every click.
#[derive(Default)]
struct Effort {
    keys: usize,
    clicks: usize,
}

impl Effort {
    fn key(&mut self, h: &mut Harness<'static, App>, key: egui::Key) {
        self.keys += 1;
        h.key_press(key);
        h.run_steps(3);
    }

    fn combo(&mut self, h: &mut Harness<'static, App>, key: egui::Key) {
        self.keys += 1;
        h.key_press_modifiers(egui::Modifiers::COMMAND, key);
        h.run_steps(3);
    }

    /// Characters typed into the focused field, one press each.
    fn type_text(&mut self, h: &mut Harness<'static, App>, text: &str) {
        self.keys += text.chars().count();
        h.event(egui::Event::Text(text.to_owned()));
        h.run_steps(2);
    }

    fn click(&mut self, h: &mut Harness<'static, App>, label: &str) {
        self.clicks += 1;
        h.get_by_label(label).click();
        h.run_steps(3);
    }

    /// The row number at the left of the table.
    fn click_row(&mut self, h: &mut Harness<'static, App>, line: u32) {
        self.clicks += 1;
        h.query_all_by_label(&line.to_string())
            .find(|n| n.rect().min.x < 80.0)
            .expect("the row number is on screen")
            .click();
        h.run_steps(3);
    }

    fn click_containing(&mut self, h: &mut Harness<'static, App>, part: &str) {
        self.clicks += 1;
        h.get_by_label_contains(part).click();
        h.run_steps(3);
    }
}

/// The sample in Downloads, the window at 1366×768 with its list read.
fn sample_in_downloads(name: &str) -> (PathBuf, Harness<'static, App>) {
    let dir = fixed_dir(name);
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    sample::write_sample(&downloads.join("样例.xlsx")).unwrap();
    let mut h = harness(&dir);
    for _ in 0..500 {
        h.step();
        if !h.state().reading_downloads() && !h.state().downloads().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.run_steps(2);
    (dir, h)
}

/// What the usual day must leave in the upload sheet: row 15's ID fixed (its last character
/// was wrong), row 16's person left out, the other ready rows there.
fn check_the_usual_day(h: &Harness<'static, App>, downloads: &Path, fixed: &str, left_out: &str) {
    let b = h.state().batch().expect("the review screen");
    let i15 = b.index_of_line(15).unwrap();
    assert_eq!(b.value(i15, 2), fixed);
    assert_eq!(b.status(i15), RowStatus::Ready, "{:?}", b.issues(i15));
    assert_eq!(b.status(b.index_of_line(16).unwrap()), RowStatus::Excluded);
    let rows = read_text_sheet(&downloads.join("样例_上报.xlsx"));
    assert!(
        rows.iter().any(|r| r.contains(&fixed.to_owned())),
        "the fixed row is in the sheet"
    );
    assert!(
        !rows.iter().any(|r| r[0] == left_out),
        "{left_out} was left out"
    );
    assert_eq!(
        rows.len(),
        25,
        "the header, 23 ready rows and the fixed one"
    );
}

/// Row 15's ID as it should be, and the name on row 16.
fn the_usual_fix(h: &Harness<'static, App>) -> (String, char, String) {
    let b = h.state().batch().unwrap();
    let wrong = b.value(b.index_of_line(15).unwrap(), 2).to_owned();
    let right = check_char(&wrong[..17]);
    let name16 = b.value(b.index_of_line(16).unwrap(), 0).to_owned();
    (format!("{}{right}", &wrong[..17]), right, name16)
}

/// The usual day without the mouse (open the newest export, fix one row, leave one out,
/// export): Tab starts in the content (the newest download, not 关于 in the top bar), F3 goes
/// to the next row with an error with the panel at its first problem, Enter saves, Ctrl+D
/// leaves the row on screen out, Ctrl+S exports; at most 25 presses.
#[test]
fn the_usual_day_by_keys_only_takes_at_most_25_presses() {
    use egui::Key;
    let (dir, mut h) = sample_in_downloads("the_usual_day_by_keys");
    let mut e = Effort::default();
    e.key(&mut h, Key::Tab);
    e.key(&mut h, Key::Enter);
    settle(&mut h);
    assert!(
        h.state().batch().is_some(),
        "Tab then Enter opened the newest export"
    );
    let (fixed, right, name16) = the_usual_fix(&h);
    e.key(&mut h, Key::F3);
    h.get_by_label("第 15 行");
    assert!(
        h.get_by_role_and_label(egui::accesskit::Role::TextInput, "证件号码")
            .is_focused(),
        "the panel opened at the wrong ID"
    );
    // The message says the last character is wrong: it is replaced.
    e.key(&mut h, Key::Backspace);
    e.type_text(&mut h, &right.to_string());
    e.key(&mut h, Key::Enter);
    e.key(&mut h, Key::F3);
    h.get_by_label("第 16 行");
    e.combo(&mut h, Key::D);
    e.combo(&mut h, Key::S);
    h.step();
    settle(&mut h);
    check_the_usual_day(&h, &dir.join("downloads"), &fixed, &name16);
    assert!(e.clicks == 0 && e.keys <= 25, "{} key presses", e.keys);
}

/// The same day with the mouse: at most 5 clicks (the fix itself is typed).
#[test]
fn the_usual_day_by_mouse_takes_at_most_5_clicks() {
    use egui::Key;
    let (dir, mut h) = sample_in_downloads("the_usual_day_by_mouse");
    let mut e = Effort::default();
    e.click_containing(&mut h, "样例.xlsx    今天");
    settle(&mut h);
    let (fixed, right, name16) = the_usual_fix(&h);
    e.click_row(&mut h, 15);
    h.get_by_label("第 15 行");
    e.key(&mut h, Key::Backspace);
    e.type_text(&mut h, &right.to_string());
    e.key(&mut h, Key::Enter);
    e.click_row(&mut h, 16);
    h.get_by_label("第 16 行");
    e.click(&mut h, "不上报此行");
    e.click(&mut h, "导出上报表（24 行） Ctrl+S");
    h.step();
    settle(&mut h);
    check_the_usual_day(&h, &dir.join("downloads"), &fixed, &name16);
    assert!(e.clicks <= 5, "{} clicks", e.clicks);
}

/// Ctrl+F, a row number and Enter open that row (not the rows whose ID or phone contains the
/// number); other words and Enter open the first row found.
#[test]
fn ctrl_f_and_a_row_number_goes_to_that_row() {
    use egui::Key;
    let dir = fixed_dir("ctrl_f_and_a_row_number");
    let (mut h, _) = open_sample(&dir);
    let mut e = Effort::default();
    e.combo(&mut h, Key::F);
    e.type_text(&mut h, "17");
    e.key(&mut h, Key::Enter);
    h.get_by_label("第 17 行");
    let review = h.state_mut().review().unwrap();
    let row17 = review.batch.index_of_line(17);
    assert_eq!(review.selected, row17);
    assert_eq!(review.cursor_row(), row17, "the highlight is on row 17");
    assert_eq!(review.search, "", "the whole table, row 17 in it");
    assert!(e.keys <= 4);
    // A name: the row found opens.
    let (line, name) = {
        let b = &review.batch;
        let i = b.index_of_line(30).unwrap();
        (b.line(i), b.value(i, 0).to_owned())
    };
    e.combo(&mut h, Key::F);
    e.type_text(&mut h, &name);
    e.key(&mut h, Key::Enter);
    h.get_by_label(&format!("第 {line} 行"));
}

/// Not a check: writes what every screen looks like at 1024×768 and 1366×768 into the folder
/// in `SHEETBRIDGE_SCREENS`, for a person to look at (`cargo test --test integration --
/// --ignored window::screens_for_the_eye`).
#[test]
#[ignore]
fn screens_for_the_eye() {
    let Some(out) = std::env::var_os("SHEETBRIDGE_SCREENS").map(PathBuf::from) else {
        return;
    };
    std::fs::create_dir_all(&out).unwrap();
    for size in [egui::vec2(1024.0, 768.0), egui::vec2(1366.0, 768.0)] {
        let w = size.x as u32;
        let shot = |h: &mut Harness<'static, App>, name: &str| {
            h.run_steps(3);
            let image = h.render().unwrap();
            image.save(out.join(format!("{w}_{name}.png"))).unwrap();
        };
        let dir = fixed_dir(&format!("screens_{w}"));
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        sample::write_sample(&downloads.join("样例.xlsx")).unwrap();
        let mut h = harness_sized(&dir, size);
        downloads_read(&mut h);
        shot(&mut h, "1_start");
        drop_file(&mut h, &downloads.join("样例.xlsx"));
        shot(&mut h, "2_review");
        h.key_press(egui::Key::F3);
        shot(&mut h, "3_panel");
        h.key_press(egui::Key::Escape);
        h.run_steps(2);
        h.get_by_label("设置").click();
        shot(&mut h, "4_settings");
        drop(h);
        let mut h = harness_sized(&dir, size);
        h.state_mut().runtime.uploads.show_queue = true;
        shot(&mut h, "5_queue");
        h.state_mut().runtime.uploads.show_queue = false;
        let titled = dir.join("未知格式.xlsx");
        titled_unknown_export(&titled, 12);
        drop_file(&mut h, &titled);
        shot(&mut h, "6_mapping");
    }
}

/// The state told truly with the stand-in platform: while it is down the rows sent read 上传中 and
/// the upload button does not offer them again; once it confirms they read 已上报 (not ✓ 可上报),
/// the upload button offers nothing more, and the start screen's history says
/// 省平台已确认 23 行 (not 已放进上传队列). The rows go in three batches of at most 10.
#[test]
fn after_the_platform_confirms_the_rows_read_uploaded_and_the_history_says_confirmed() {
    use crate::app::tests::support::platform::{Config, Platform};
    use std::sync::atomic::Ordering;
    let dir = fixed_dir("after_the_platform_confirms");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let target = dir.join("stand.toml");
    std::fs::write(&target, platform.target_toml(true, 5, 10)).unwrap();
    let (mut h, _) = open_sample(&dir);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    // The platform is down at first: the rows are on their way, not offered again.
    platform.switches().fail_503.store(1000, Ordering::SeqCst);
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 3 && app.runtime.uploads.last.is_some()
    });
    assert!(
        h.query_all_by_label("上传中").count() >= 10,
        "rows read 上传中"
    );
    assert!(h.query_by_label("✓ 可上报").is_none());
    assert!(h.query_by_label("上传到省平台（23 行）").is_none());
    h.get_by_label("上传到省平台（0 行）");
    platform.switches().fail_503.store(0, Ordering::SeqCst);
    h.get_by_label("现在重试（VPN 已连上时点这里）").click();
    h.run_steps(2);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 0 && app.runtime.uploads.confirmed() == (3, 23)
    });
    assert_eq!(platform.rows().len(), 23);
    h.run_steps(4);
    let b = h.state().batch().unwrap();
    assert_eq!(b.summary().ready, 0, "no row is offered again");
    let line4 = b.index_of_line(4).unwrap();
    assert_eq!(b.status(line4), RowStatus::Duplicate);
    assert!(
        h.query_by_label("✓ 可上报").is_none(),
        "a confirmed row still says 可上报"
    );
    assert!(
        h.query_all_by_label("已上报").count() >= 10,
        "rows read 已上报"
    );
    assert!(h.query_by_label("上传到省平台（23 行）").is_none());
    use egui_kittest::kittest::NodeT;
    assert!(
        h.get_by_label("上传到省平台（0 行）")
            .accesskit_node()
            .is_disabled(),
        "the upload button offers nothing"
    );
    h.get_by_label("关闭此文件").click();
    h.run_steps(4);
    h.get_by_label("省平台已确认 23 行");
    assert!(h.query_by_label_contains("已放进上传队列").is_none());
}

/// The row numbers the table shows whole between `top` and `bottom`.
fn rows_in_view(h: &Harness<'static, App>, top: f32, bottom: f32) -> usize {
    (4..=44)
        .filter(|line: &u32| {
            h.query_all_by_label(&line.to_string()).any(|n| {
                let r = n.rect();
                r.min.x < 80.0 && r.min.y >= top && r.max.y <= bottom
            })
        })
        .count()
}

/// At 1024×768: leaving a row out makes "不上报 1" appear, and nothing moves (the search box,
/// the table's rows, the buttons); at least 13 rows are in view with the panel open, and at
/// 1366×768 without it; the unused-columns hint is inside the window.
#[test]
fn at_1024_by_768_nothing_moves_when_a_count_appears_and_13_rows_show() {
    let size = egui::vec2(1024.0, 768.0);
    let dir = fixed_dir("at_1024_nothing_moves");
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness_sized(&dir, size);
    h.run_steps(2);
    drop_file(&mut h, &input);
    let unused = h.get_by_label_contains("未使用的列").rect();
    assert!(unused.max.x <= size.x, "the hint is cut: {unused:?}");
    let row = |h: &Harness<'static, App>, line: &str| {
        h.query_all_by_label(line)
            .find(|n| n.rect().min.x < 80.0)
            .map(|n| n.rect())
    };
    h.key_press(egui::Key::ArrowDown);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    h.get_by_label("第 4 行");
    let search = || egui::accesskit::Role::TextInput;
    let before = (
        h.get_by_role_and_label(search(), "搜索：").rect(),
        row(&h, "5"),
        h.get_by_label("不上报此行").rect(),
    );
    let in_view = rows_in_view(&h, before.1.unwrap().min.y - 40.0, size.y - 70.0);
    h.get_by_label("不上报此行").click();
    h.run_steps(4);
    h.get_by_label("不上报 1");
    let after = (
        h.get_by_role_and_label(search(), "搜索：").rect(),
        row(&h, "5"),
        h.get_by_label("恢复上报此行").rect(),
    );
    assert_eq!(before.0, after.0, "the search box moved");
    assert_eq!(before.1, after.1, "the table moved");
    assert_eq!(before.2.min, after.2.min, "the panel's buttons moved");
    assert!(in_view >= 13, "{in_view} rows in view with the panel open");
    // 1366×768, the panel closed (a fresh folder: no decision restored, no notice).
    let dir = fixed_dir("at_1366_rows_in_view");
    let input = dir.join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let mut h = harness(&dir);
    h.run_steps(2);
    drop_file(&mut h, &input);
    let top = row(&h, "4").unwrap().min.y - 2.0;
    assert!(
        rows_in_view(&h, top, 768.0 - 70.0) >= 13,
        "too few rows in view"
    );
}

/// Searches for a row number and clicks it in the table.
fn open_row(h: &mut Harness<'static, App>, line: u32) {
    search_fresh(h, &line.to_string());
    h.query_all_by_label(&line.to_string())
        .find(|n| n.rect().min.x < 80.0)
        .unwrap_or_else(|| panic!("row {line} is in the table"))
        .click();
    h.run_steps(4);
}

/// The panel of a row without problems opens at its first field, not where the last row's
/// fields were scrolled to.
#[test]
fn the_panel_of_a_row_without_problems_opens_at_its_top() {
    let dir = fixed_dir("the_panel_of_a_row_without_problems_opens_at_its_top");
    let (mut h, _) = open_sample(&dir);
    // A row whose first problem is far down: its panel scrolls there.
    let (far, clean) = {
        let review = h.state_mut().review().unwrap();
        let b = &review.batch;
        let far = (0..b.len())
            .filter_map(|i| review.first_problem_field(i).map(|f| (i, f)))
            .max_by_key(|&(_, f)| f)
            .unwrap()
            .0;
        let clean = (0..b.len()).find(|&i| b.issues(i).is_empty()).unwrap();
        (b.line(far), b.line(clean))
    };
    open_row(&mut h, far);
    h.get_by_label(&format!("第 {far} 行"));
    let caption = {
        let b = h.state().batch().unwrap();
        let (header, source) = (&b.profile().fields[0].header, b.column_header(0));
        if source == header {
            header.clone()
        } else {
            format!("{header}（{source}）")
        }
    };
    let name = |h: &Harness<'static, App>| {
        h.query_by_role_and_label(egui::accesskit::Role::TextInput, &caption)
            .map(|n| n.rect())
    };
    let heading = h.get_by_label(&format!("第 {far} 行")).rect();
    let scrolled = name(&h).is_none_or(|r| r.min.y < heading.max.y + 40.0);
    assert!(scrolled, "the far row's panel scrolled down to its problem");
    // What a click on the row does (the row is scrolled out of the filtered table).
    let index = h.state().batch().unwrap().index_of_line(clean).unwrap();
    h.state_mut().review().unwrap().select(index);
    h.run_steps(4);
    let heading = h.get_by_label(&format!("第 {clean} 行")).rect();
    let first = name(&h).expect("姓名 is laid out");
    assert!(
        first.min.y > heading.max.y && first.max.y < heading.max.y + 120.0,
        "姓名 is at the top of the panel: {first:?} under {heading:?}"
    );
}

/// The password's caption says what happens to it: kept for this session, or, with 记住密码
/// ticked, kept on this computer.
#[test]
fn the_password_caption_follows_remember_the_password() {
    let dir = fixed_dir("the_password_caption_follows_remember");
    let mut h = harness(&dir);
    h.run_steps(2);
    h.get_by_label("设置").click();
    h.run_steps(3);
    let session = "密码（只在这次打开期间记住）";
    h.get_by_role_and_label(egui::accesskit::Role::PasswordInput, session);
    h.get_by_label("记住密码（自动上报需要）").click();
    h.run_steps(3);
    assert!(
        h.query_by_label(session).is_none(),
        "{session} beside 记住密码"
    );
    h.get_by_role_and_label(
        egui::accesskit::Role::PasswordInput,
        "密码（保存后记在这台电脑上，下次不用再填）",
    );
}

/// Without a folder dialog, 更换文件夹… and 选择文件夹… say so and offer a box for the folder;
/// the folder typed there is where the upload sheet goes.
#[test]
fn without_a_folder_dialog_the_folder_buttons_offer_a_box() {
    let dir = fixed_dir("without_a_folder_dialog");
    let (mut h, _) = open_sample(&dir);
    h.state_mut().set_folder_dialog(|_| None);
    h.get_by_label("更换文件夹…").click();
    h.run_steps(3);
    h.get_by_label_contains("打不开选择文件夹的窗口");
    let out = dir.join("导出");
    std::fs::create_dir_all(&out).unwrap();
    let field = "导出到文件夹：";
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, field)
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, field)
        .type_text(&out.display().to_string());
    h.run_steps(1);
    h.get_by_label("确定").click();
    h.run_steps(3);
    assert_eq!(h.state_mut().review().unwrap().export_dir, out);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.step();
    settle(&mut h);
    assert!(out.join("样例_上报.xlsx").exists());
    // Settings → 自动上报 → 选择文件夹… names the box beside it.
    h.get_by_label("设置").click();
    h.run_steps(3);
    h.get_by_label("选择文件夹…").click();
    h.run_steps(3);
    h.get_by_label_contains("请在左边的“文件夹”框里输入");
}

/// F3 and Ctrl+D work from the panel's fields, but not from the settings window over the
/// review: typing there never opens or leaves out a row behind it.
#[test]
fn the_review_keys_do_not_act_behind_the_settings_window() {
    let dir = fixed_dir("the_review_keys_do_not_act_behind_the_settings_window");
    let (mut h, _) = open_sample(&dir);
    h.get_by_label("设置").click();
    h.run_steps(3);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "省平台用户名")
        .focus();
    h.run_steps(1);
    h.key_press(egui::Key::F3);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::D);
    h.run_steps(3);
    let review = h.state_mut().review().unwrap();
    assert_eq!(review.selected, None, "F3 opened a row behind the settings");
    assert_eq!(review.batch.summary().excluded, 0);
}

/// Issue 20: an export of `people` people sampled today, each in a tube of their own; row 2's
/// ID (Excel row 3) is cut short (a check error), row 4 (Excel row 5) is positive.
fn todays_export(path: &Path, people: u32) -> Vec<Vec<V>> {
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect::<Vec<V>>()];
    for i in 0..people {
        let mut row = person(i, &format!("P{:010}", i));
        row[6] = d(&format!("{today} 08:30:00"));
        row[7] = d(&format!("{today} 14:00:00"));
        rows.push(row);
    }
    rows[2][2] = t("44010619");
    rows[4][8] = t("阳性");
    write_xlsx(path, &[SheetSpec::new("Sheet1", rows.clone())]);
    rows
}

/// A window whose settings name the stand-in platform at `url` (the user and this session's
/// password given), so a file opened is recorded for it.
fn harness_for(dir: &Path, toml: String) -> Harness<'static, App> {
    let target = dir.join("stand.toml");
    std::fs::write(&target, toml).unwrap();
    let mut h = harness(dir);
    h.state_mut().settings.target = Some(target.display().to_string());
    h.state_mut().settings.user = "demo".into();
    h.state_mut().runtime.uploads.password = "demo".into();
    h.run_steps(2);
    h
}

/// Steps until the day's account has been read again after the outbox last moved.
fn account_read(h: &mut Harness<'static, App>, done: impl Fn(&App) -> bool) {
    wait_for(h, |app| !app.ui.account.reading() && done(app));
}

/// Issue 20: 今日对账 on the start screen counts each state, a count filters the list, and a
/// click on a sample opens its file at its row.
#[test]
fn todays_account_counts_filter_and_a_click_opens_the_row() {
    use crate::app::tests::support::platform::{Config, Platform};
    use sheetbridge::upload::daily::SampleState;
    let dir = fixed_dir("todays_account");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let input = dir.join("今日.xlsx");
    todays_export(&input, 6);
    let mut h = harness_for(&dir, platform.target_toml(true, 5, 5000));
    drop_file(&mut h, &input);
    assert_eq!(h.state().batch().unwrap().summary().rejected, 1);
    h.get_by_label("关闭此文件").click();
    h.run_steps(2);
    account_read(&mut h, |app| {
        app.ui
            .account
            .day
            .as_ref()
            .is_some_and(|d| d.samples.len() == 6)
    });
    h.get_by_label("今日对账");
    h.get_by_label("未完成 6 / 共 6");
    h.get_by_label("有错误未上报 1");
    h.get_by_label("未上传 5");
    // Positives on top, in the list and above the screen.
    let first = h.state().ui.account.listed()[0].clone();
    assert!(first.positive, "the positive is listed first");
    h.get_by_label("阳性 1 人未上报");
    // A count filters the list; a second click shows every open sample again.
    h.get_by_label("有错误未上报 1").click();
    h.run_steps(2);
    assert_eq!(h.state().ui.account.filter, Some(SampleState::Error));
    let listed = h.state().ui.account.listed();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, SampleState::Error);
    assert_eq!(listed[0].row, 3);
    assert!(!listed[0].id.contains("44010619"), "the ID is masked");
    // The click opens the file at that row.
    h.get_by_label("打开文件到第 3 行").click();
    h.step();
    settle(&mut h);
    let review = h.state_mut().review().expect("the file is open");
    let selected = review.selected.expect("a row is selected");
    assert_eq!(review.batch.line(selected), 3);
    assert_eq!(review.batch.status(selected), RowStatus::Rejected);
}

/// Issue 20: while a positive is not on the platform, the title and the bar above the screen
/// say so; in the review it is the first row, marked 阳性 in red, and its batch is offered
/// first: one click sends the positive alone, and once the platform confirms it the title
/// goes back.
#[test]
fn a_positive_comes_first_and_one_click_sends_it_alone() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("positive_first");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let input = dir.join("今日.xlsx");
    let rows = todays_export(&input, 6);
    let mut h = harness_for(&dir, platform.target_toml(true, 5, 5000));
    drop_file(&mut h, &input);
    account_read(&mut h, |app| app.ui.account.positives_waiting() == 1);
    assert_eq!(h.state().title(), "核酸结果上报助手 — 阳性 1 人未上报");
    h.get_by_label("阳性 1 人未上报");
    // The positive (Excel row 5) is the table's first row, marked in red.
    let review = h.state_mut().review().unwrap();
    let first = review.visible_rows()[0] as usize;
    assert_eq!(review.batch.line(first), 5);
    h.get_by_label("阳性 可上报");
    // Offered first: one click queues it alone, and it is sent at once.
    h.get_by_label("先上报阳性结果（1 人）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| app.runtime.uploads.confirmed() == (1, 1));
    let on_platform = platform.rows();
    assert_eq!(on_platform.len(), 1, "the positive alone: {on_platform:?}");
    assert_eq!(on_platform[0].0, text_of(&rows[4][9]));
    assert!(h.query_by_label("先上报阳性结果（1 人）").is_none());
    account_read(&mut h, |app| app.ui.account.positives_waiting() == 0);
    assert_eq!(h.state().title(), "核酸结果上报助手");
    // The rest of the file goes afterwards (the positive now reads 已上报, the button offers
    // the other 4); the positive is not sent twice.
    h.get_by_label("阳性 已上报");
    h.get_by_label("上传到省平台（4 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.pending() == 0 && app.runtime.uploads.confirmed().1 == 5
    });
    let on_platform = platform.rows();
    assert_eq!(on_platform.len(), 5);
    assert!(on_platform.iter().all(|r| r.2 == 1), "each row once");
}

/// Issue 20: the VPN down while a positive waits: the bar above the screen says the positive
/// is not on the platform and to check the VPN.
#[test]
fn a_positive_waiting_for_the_vpn_is_said() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("positive_vpn");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    // Nothing listens on this port: the connection is refused (as with the VPN down).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let toml = platform
        .target_toml(true, 5, 5000)
        .replace(&platform.base_url(), &format!("http://{closed}"));
    let input = dir.join("今日.xlsx");
    todays_export(&input, 6);
    let mut h = harness_for(&dir, toml);
    drop_file(&mut h, &input);
    h.get_by_label("先上报阳性结果（1 人）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.runtime.uploads.last.is_some() && app.runtime.uploads.pending() == 1
    });
    account_read(&mut h, |app| {
        app.ui
            .account
            .day
            .as_ref()
            .is_some_and(|d| d.samples.iter().any(|s| s.positive && s.batch.is_some()))
    });
    h.get_by_label("阳性 1 人未上报");
    h.get_by_label_contains("还在上传队列里，没有送到省平台");
    h.get_by_label_contains("请检查 VPN 是否连上");
    assert!(h.state().title().ends_with("阳性 1 人未上报"));
    assert!(platform.rows().is_empty());
}

/// Issue 20: after an export, "已在省平台网站手工上报" notes the sheet's rows as uploaded by
/// hand: they read 已上报过 when the file is read again, the upload button no longer offers
/// them, and 今日对账 counts them as 已手工上报.
#[test]
fn uploaded_by_hand_marks_the_exported_rows() {
    use crate::app::tests::support::platform::{Config, Platform};
    let dir = fixed_dir("by_hand");
    let platform = Platform::start(Config::new(&dir.join("platform.sqlite"))).unwrap();
    let input = dir.join("今日.xlsx");
    todays_export(&input, 6);
    let mut h = harness_for(&dir, platform.target_toml(true, 5, 5000));
    drop_file(&mut h, &input);
    h.get_by_label_contains("导出上报表（5 行）").click();
    h.step();
    settle(&mut h);
    h.get_by_label("已在省平台网站手工上报").click();
    h.step();
    settle(&mut h);
    // Read again: the file's rows are uploaded now.
    for _ in 0..50 {
        h.step();
        if !h.state().busy() && h.state().batch().is_some_and(|b| b.summary().ready == 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    settle(&mut h);
    let s = h.state().batch().unwrap().summary();
    assert_eq!((s.ready, s.rejected, s.duplicate), (0, 1, 5));
    h.get_by_label_contains("已在省平台网站手工上报，不会再上传");
    h.get_by_label("上传到省平台（0 行）");
    h.get_by_label("关闭此文件").click();
    h.run_steps(2);
    account_read(&mut h, |app| {
        app.ui
            .account
            .day
            .as_ref()
            .is_some_and(|d| d.count(sheetbridge::upload::daily::SampleState::Manual) == 5)
    });
    h.get_by_label("已手工上报 5");
    h.get_by_label("有错误未上报 1");
    // Nothing reached the platform: the clerk uploaded by hand.
    assert!(platform.rows().is_empty());
    assert_eq!(h.state().ui.account.positives_waiting(), 0);
}

fn text_of(v: &V) -> String {
    match v {
        V::T(s) => s.clone(),
        other => panic!("not text: {other:?}"),
    }
}
