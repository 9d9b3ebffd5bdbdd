//! `sheetbridge window` (and no arguments): the window, with one restart on another renderer
//! when the graphics driver cannot start it.

use super::{EXIT_NOTHING, EXIT_OK};
use std::path::PathBuf;

/// Set by the restart after glow failed on Windows, or by hand to start with one renderer:
/// `glow` (OpenGL 2.0) or `wgpu` (Direct3D 12, with Microsoft's WARP software renderer).
const RENDERER_VAR: &str = "SHEETBRIDGE_RENDERER";

/// Opens the window. If the graphics driver cannot start it, tries once more in a new process
/// (one event loop per process): with Mesa's software renderer on Linux, with wgpu on Direct3D 12
/// on Windows. Otherwise says so in a dialog as well as on the terminal, so a double-clicked
/// program never just vanishes.
pub(super) fn open(file: Option<PathBuf>) -> u8 {
    let renderer = first_renderer();
    let started = if forced_to_fail(renderer) {
        Err(eframe::Error::AppCreation(
            format!("{renderer} failed on purpose ({FAIL_VAR})").into(),
        ))
    } else {
        crate::app::run(file, renderer)
    };
    let err = match started {
        Ok(()) => return EXIT_OK,
        Err(e) => e,
    };
    // The event loop could not start: no display to open a window on (a server, a broken
    // remote session). Anything later is the graphics driver.
    let no_display = matches!(err, eframe::Error::WinitEventLoop(_));
    if let Some((var, value)) = fallback().filter(|_| !no_display) {
        eprintln!(
            "{}",
            super::console(&format!(
                "提醒：窗口没能打开，换一种绘图方式再试（技术信息：{err}）"
            ))
        );
        let retried = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env(var, value)
                .status()
        });
        if let Ok(status) = retried {
            return status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(EXIT_NOTHING);
        }
    }
    if no_display {
        eprintln!(
            "{}",
            super::console(&format!(
                "错误：无法打开窗口：找不到图形界面（没有显示器，或远程桌面已断开）。请在有桌面的电脑上打开，或用命令行：sheetbridge convert 文件.xlsx（技术信息：{err}）"
            ))
        );
        return EXIT_NOTHING;
    }
    let driver = if cfg!(windows) {
        "这台电脑的显卡驱动既不支持 OpenGL 2.0，也不支持 Direct3D 12"
    } else {
        "这台电脑的显卡驱动不支持 OpenGL 2.0"
    };
    let message = format!(
        "无法打开窗口：{driver}。请让信息科更新显卡驱动后再试。\n\n在此之前可以用命令行转换：sheetbridge convert 文件.xlsx\n\n（技术信息：{err}）"
    );
    eprintln!("{}", super::console(&format!("错误：{message}")));
    // A double-clicked program has no terminal: say it in a dialog too.
    rfd::MessageDialog::new()
        .set_level(rfd::MessageLevel::Error)
        .set_title("核酸结果上报助手")
        .set_description(&message)
        .set_buttons(rfd::MessageButtons::Ok)
        .show();
    EXIT_NOTHING
}

/// Tests only: the renderers named here (`glow`, `wgpu`, comma-separated) fail at once, to try
/// the fallback and the message box on a machine whose graphics work.
const FAIL_VAR: &str = "SHEETBRIDGE_FAIL_RENDERER";

fn forced_to_fail(renderer: eframe::Renderer) -> bool {
    std::env::var(FAIL_VAR).is_ok_and(|v| v.split(',').any(|r| r.trim() == renderer.to_string()))
}

/// The renderer this process starts the window with: glow, unless `SHEETBRIDGE_RENDERER` asks
/// for wgpu (Windows only; Linux builds glow alone).
fn first_renderer() -> eframe::Renderer {
    #[cfg(windows)]
    if std::env::var_os(RENDERER_VAR).is_some_and(|v| v == "wgpu") {
        return eframe::Renderer::Wgpu;
    }
    eframe::Renderer::Glow
}

/// The variable the one restart after a failed start sets, unless this process is that restart
/// (or was told its renderer): Mesa's software OpenGL on Linux, wgpu on Windows.
fn fallback() -> Option<(&'static str, &'static str)> {
    let (var, value) = if cfg!(windows) {
        (RENDERER_VAR, "wgpu")
    } else if cfg!(target_os = "linux") {
        ("LIBGL_ALWAYS_SOFTWARE", "1")
    } else {
        return None;
    };
    if std::env::var_os(var).is_some() {
        return None;
    }
    Some((var, value))
}
