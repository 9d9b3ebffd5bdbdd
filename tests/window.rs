//! The window, driven like a clerk would: egui_kittest finds widgets by their Chinese labels,
//! clicks and types, and the assertions look at the app's state and the files it writes. A
//! missing glyph makes the harness panic, so every test here is also a test against tofu.

use crate::support::*;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sheetbridge::app::{App, Dirs, Filter};
use sheetbridge::batch::RowStatus;
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
    let dirs = Dirs {
        config: Some(home.join("config")),
        data: Some(home.join("data")),
    };
    let app = App::new(&egui::Context::default(), dirs);
    Harness::builder()
        .with_size(egui::vec2(1366.0, 768.0))
        .with_theme(egui::Theme::Light)
        .with_context_setup(sheetbridge::app::fonts::install)
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
    assert_eq!(b.checker.profile.name, "某系统导出-模板");
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
        Dirs {
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
    use crate::support::platform::{Config, Platform};
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
    h.state_mut().uploads.password = "demo".into();
    // The platform is down at first: the batch waits in the queue and closing asks.
    platform.switches().fail_503.store(1000, Ordering::SeqCst);
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.uploads.pending() == 1 && app.uploads.last.is_some()
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
        app.uploads.pending() == 0 && app.uploads.confirmed() == (1, 23)
    });
    let rows = platform.rows();
    assert_eq!(rows.len(), 23);
    assert!(rows.iter().all(|r| r.2 == 1), "every row stored once");
    h.get_by_label_contains("省平台已确认 1 批，共 23 行");
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

/// The clerk's decisions outlive the window: a row left out and a fixed ID, exported, the app
/// dropped; the same file opened in a new app has both back (and says so), and uploading from
/// it sends neither the row left out nor the old value.
#[test]
fn decisions_are_restored_on_reopening_and_upload_follows_them() {
    use crate::support::platform::{Config, Platform};
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
    h.state_mut().uploads.password = "demo".into();
    h.get_by_label("上传到省平台（23 行）").click();
    h.step();
    settle(&mut h);
    wait_for(&mut h, |app| {
        app.uploads.pending() == 0 && app.uploads.confirmed() == (1, 23)
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
