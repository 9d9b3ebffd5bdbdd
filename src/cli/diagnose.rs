//! `sheetbridge diagnose [-o FILE.zip]`: the diagnostic bundle for the support engineer
//! (support.md).

use super::{EXIT_OK, Run, say};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::support::diagnose::{self, Context};
use std::path::PathBuf;

#[derive(Args)]
pub struct DiagnoseArgs {
    /// 写到这个文件；默认在当前文件夹，名为「sheetbridge-诊断-日期.zip」
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &DiagnoseArgs, lang: Lang) -> Run {
    let out = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(diagnose::default_name(chrono::Local::now().date_naive()))
    });
    let folders = super::folders();
    let context = Context {
        renderer: None,
        system: super::system(),
    };
    diagnose::write_bundle(&out, &folders, &context)?;
    say(
        lang,
        format!(
            "已写出诊断包：{}。请把这个文件发给技术支持；里面没有密码，也没有任何人的证件号、电话、姓名或检测数据。",
            sheetbridge::paths::shown(&out)
        ),
        format!(
            "wrote the diagnostic bundle {}: send it to support; it holds no password and no one's ID, phone, name or results.",
            sheetbridge::paths::shown(&out)
        ),
    );
    Ok(EXIT_OK)
}
