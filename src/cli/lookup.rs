//! `sheetbridge lookup VALUE`: whether a person's result (by ID number of any type) or a
//! barcode was uploaded, when, to which target, in which batch and from which file; or where it
//! is in the outbox (support.md).

use super::{EXIT_OK, Run};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::support::lookup;

#[derive(Args)]
pub struct LookupArgs {
    /// 证件号码（任何证件类型；小写 x、全角数字都可以）或条码号
    pub value: String,
}

pub fn run(args: &LookupArgs, lang: Lang) -> Run {
    let records = lookup::find(super::folders().data_dir()?, &args.value)?;
    for line in lookup::describe(&args.value, &records, lang) {
        println!("{}", super::console(&line));
    }
    Ok(EXIT_OK)
}
