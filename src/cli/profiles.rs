//! `sheetbridge profiles`: the profiles found, built-in and the user's, with their files.

use super::EXIT_OK;
use sheetbridge::issue::Lang;
use sheetbridge::profile::{Origin, Profiles};

pub fn run(lang: Lang) -> u8 {
    let dir = super::folders(lang).and_then(|f| f.profiles_dir());
    let all = Profiles::load(dir.as_deref());
    for p in &all.list {
        let source = match (&p.origin, lang) {
            (Origin::Builtin, Lang::Zh) => format!("内置（mappings/{}.toml）", p.name),
            (Origin::Builtin, Lang::En) => format!("built-in (mappings/{}.toml)", p.name),
            (Origin::File(path), _) => path.display().to_string(),
        };
        println!("{}\t{}\t{}", p.name, p.title, source);
    }
    for e in &all.broken {
        match lang {
            Lang::Zh => println!("（无法使用）{e}"),
            Lang::En => println!("(unusable) {e}"),
        }
    }
    if let Some(d) = dir {
        match lang {
            Lang::Zh => println!("自己的模板放在：{}", d.display()),
            Lang::En => println!("your own profiles go in: {}", d.display()),
        }
    }
    EXIT_OK
}
