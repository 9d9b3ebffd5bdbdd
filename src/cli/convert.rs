//! `sheetbridge convert`: read, check and write the upload sheet (and the rejected rows).

use super::{EXIT_NOTHING, EXIT_OK, EXIT_SOME_REJECTED, InputArgs};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::write;
use std::path::PathBuf;

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// 上报表写到这里（.xlsx 或 .csv）；默认在原文件旁边，名为「原文件名_上报.xlsx」
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// 另外把有错误的行（原样，加一列「错误原因」）写到这个 .xlsx 文件
    #[arg(long = "errors-out")]
    pub errors_out: Option<PathBuf>,
}

pub fn run(args: &ConvertArgs, lang: Lang) -> u8 {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| write::default_output(&args.input.input));
    let outputs: Vec<&std::path::Path> = std::iter::once(output.as_path())
        .chain(args.errors_out.as_deref())
        .chain(args.input.report.as_deref())
        .collect();
    if super::refuse_source(&args.input.input, &outputs, lang) {
        return EXIT_NOTHING;
    }
    for path in &outputs {
        super::will_write(path);
    }
    let Some(batch) = super::load(&args.input, lang) else {
        return EXIT_NOTHING;
    };
    let s = batch.summary();
    let mut code = if s.rejected + s.excluded > 0 {
        EXIT_SOME_REJECTED
    } else {
        EXIT_OK
    };

    super::print_summary(
        &batch,
        lang,
        if args.input.report.is_some() { 0 } else { 20 },
    );

    if s.ready == 0 {
        match lang {
            Lang::Zh => {
                eprintln!("没有一行可以上报，所以没有写出上报表。请按上面的提示改正后再试。")
            }
            Lang::En => eprintln!("not one row is valid, so no upload sheet was written."),
        }
        code = EXIT_NOTHING;
    } else {
        match write::write_upload(&batch, &output) {
            Ok(n) => match lang {
                Lang::Zh => eprintln!("已写出上报表：{}（{n} 行）", output.display()),
                Lang::En => eprintln!("wrote {} ({n} rows)", output.display()),
            },
            Err(e) => {
                super::print_write_error(&e, lang);
                return EXIT_NOTHING;
            }
        }
    }

    if let Some(path) = &args.errors_out {
        if s.rejected == 0 {
            match lang {
                Lang::Zh => eprintln!("没有错误行，未写出「{}」。", path.display()),
                Lang::En => eprintln!("no rejected rows; {} not written.", path.display()),
            }
        } else {
            match write::write_rejected(&batch, path, lang) {
                Ok(n) => match lang {
                    Lang::Zh => eprintln!(
                        "已写出错误行：{}（{n} 行，改好后可重新转换）",
                        path.display()
                    ),
                    Lang::En => {
                        eprintln!("wrote the rejected rows to {} ({n} rows)", path.display())
                    }
                },
                Err(e) => {
                    super::print_write_error(&e, lang);
                    return EXIT_NOTHING;
                }
            }
        }
    }
    // Last, after every file it describes exists (cli.md).
    if let Some(path) = &args.input.report
        && !super::write_report(&batch, path, lang)
    {
        return EXIT_NOTHING;
    }
    code
}
