//! Starting the window: the folders it keeps its files in, eframe's options, the renderer in
//! the log.

use super::App;
use eframe::egui;
use sheetbridge::workspace::Folders;
use std::path::PathBuf;

/// Where the window keeps its files: the per-user folders (`SHEETBRIDGE_CONFIG_DIR` /
/// `SHEETBRIDGE_DATA_DIR` replace them). Tests give `App::new` folders of their own.
pub fn user_folders() -> Folders {
    use sheetbridge::paths::{chosen, default_config_dir, default_data_dir};
    Folders {
        config: chosen(
            std::env::var_os("SHEETBRIDGE_CONFIG_DIR"),
            default_config_dir(),
        ),
        data: chosen(std::env::var_os("SHEETBRIDGE_DATA_DIR"), default_data_dir()),
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Writes the renderer in use to the program's log (the diagnostic bundle shows the last one).
fn log_renderer(cc: &eframe::CreationContext<'_>) {
    use eframe::glow::HasContext;
    let Some(gl) = &cc.gl else { return };
    // SAFETY: reading strings of the current OpenGL context, which eframe has made current on
    // this thread for the creation of the app.
    let (renderer, version) = unsafe {
        (
            gl.get_parameter_string(eframe::glow::RENDERER),
            gl.get_parameter_string(eframe::glow::VERSION),
        )
    };
    let software = std::env::var_os("LIBGL_ALWAYS_SOFTWARE").is_some();
    ::log::info!(
        target: "sheetbridge",
        "window: renderer: {renderer}, OpenGL {version}{}",
        if software { " (software rendering)" } else { "" }
    );
}

/// Opens the window (what running `sheetbridge` with no arguments does) drawn by `renderer`.
pub fn run(initial: Option<PathBuf>, renderer: eframe::Renderer) -> Result<(), eframe::Error> {
    let mut viewport = egui::ViewportBuilder::default();
    if let Ok(icon) =
        eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon/sheetbridge-64.png"))
    {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        renderer,
        viewport: viewport
            .with_title("核酸结果上报助手")
            // Fits a 1366×768 screen with a taskbar; smaller screens are maximised at start.
            .with_inner_size([1280.0, 680.0])
            .with_min_inner_size([800.0, 560.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "sheetbridge",
        options,
        Box::new(move |cc| {
            log_renderer(cc);
            let mut app = App::new(&cc.egui_ctx, user_folders());
            if let Some(path) = initial {
                app.open(&cc.egui_ctx, path);
            }
            Ok(Box::new(app))
        }),
    )
}
