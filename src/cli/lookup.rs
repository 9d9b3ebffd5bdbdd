//! `sheetbridge lookup VALUE`: where a person's result is (by ID number of any type and
//! spelling, barcode or name): every state of the day's record with its reason and what to do
//! (daily.md, support.md).

use super::{EXIT_OK, Run};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::support::lookup;

#[derive(Args)]
pub struct LookupArgs {
    /// 证件号码（任何证件类型；空格、横线、小写 x、全角数字都可以）、条码号或姓名
    pub value: String,
}

pub fn run(args: &LookupArgs, lang: Lang) -> Run {
    if sheetbridge::upload::daily::Query::new(&args.value)
        .normalized
        .is_empty()
    {
        return Err(super::Failure::new(
            "没有要查的内容：请写上证件号码、条码号或姓名，例如 sheetbridge lookup 440106199001011234。",
            "nothing to look up: give an ID number, a barcode or a name",
        ));
    }
    let folders = super::folders();
    // The workspace migrates an older database first; none at all holds nothing.
    let answer = if folders.data_dir()?.join("outbox.sqlite").is_file() {
        super::outbox::open(folders, lang)?.lookup(&args.value)?
    } else {
        Default::default()
    };
    for line in lookup::describe(&args.value, &answer, lang) {
        println!("{}", super::console(&line));
    }
    Ok(EXIT_OK)
}
