//! Chinese text: the bundled CJK font (a GBK subset of Noto Sans CJK SC, OFL) as a fallback
//! after egui's own fonts, text sizes large enough to read at arm's length, and scroll bars
//! large enough to grab.

use eframe::egui;
use std::sync::Arc;

/// The bundled font (`assets/fonts/`, see its README for the source and licence).
pub static CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-GBK.otf");

/// Installs the CJK font behind egui's default fonts and enlarges the text.
pub fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "cjk".to_owned(),
        Arc::new(egui::FontData::from_static(CJK_FONT)),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push("cjk".to_owned());
    }
    ctx.set_fonts(fonts);
    // Light, like the office software clerks know; the problem colours are chosen for it.
    ctx.set_theme(egui::Theme::Light);
    ctx.all_styles_mut(|style| {
        use egui::{FontFamily::Proportional, FontId, TextStyle};
        style.text_styles = [
            (TextStyle::Heading, FontId::new(26.0, Proportional)),
            (TextStyle::Body, FontId::new(17.0, Proportional)),
            (TextStyle::Button, FontId::new(17.0, Proportional)),
            (TextStyle::Small, FontId::new(14.0, Proportional)),
            (
                TextStyle::Monospace,
                FontId::new(16.0, egui::FontFamily::Monospace),
            ),
        ]
        .into();
        style.spacing.button_padding = egui::vec2(10.0, 6.0);
        style.spacing.item_spacing = egui::vec2(10.0, 8.0);
        style.spacing.interact_size.y = 30.0;
        // Scroll bars a clerk can grab: always shown, 16 px wide, a handle at least 40 px long.
        let mut scroll = egui::style::ScrollStyle::solid();
        scroll.bar_width = 16.0;
        scroll.handle_min_length = 40.0;
        style.spacing.scroll = scroll;
    });
    // A wheel notch moves about three table rows (egui's default is about one).
    ctx.options_mut(|o| o.input_options.line_scroll_speed = 90.0);
}
