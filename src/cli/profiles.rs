//! `sheetbridge profiles`: the profiles found, built-in and the user's, with their files.

use super::{EXIT_OK, Run, answer};
use sheetbridge::issue::Lang;
use sheetbridge::profile::{Origin, Profiles};

pub fn run(lang: Lang) -> Run {
    let dir = super::config_dir().map(|c| c.join("profiles"));
    let all = Profiles::load(dir.as_deref());
    for p in &all.list {
        let source = match &p.origin {
            Origin::Builtin => lang.pick(
                format!("内置（mappings/{}.toml）", p.name),
                format!("built-in (mappings/{}.toml)", p.name),
            ),
            Origin::File(path) => sheetbridge::paths::shown(path),
        };
        println!("{}", super::columns(&[&p.name, &p.title, &source]));
    }
    for e in &all.broken {
        answer(lang, format!("（无法使用）{e}"), format!("(unusable) {e}"));
    }
    if let Some(d) = dir {
        answer(
            lang,
            format!("自己的模板放在：{}", sheetbridge::paths::shown(&d)),
            format!("your own profiles go in: {}", sheetbridge::paths::shown(&d)),
        );
    }
    Ok(EXIT_OK)
}
