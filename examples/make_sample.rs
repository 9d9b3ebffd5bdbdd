//! Writes the bundled sample export, `assets/sample/核酸结果导出样例.xlsx`:
//! `cargo run --example make_sample`. The same code feeds the tests, which check what the
//! converter makes of it.

#[path = "../tests/support/sample.rs"]
#[allow(dead_code)]
mod sample;

fn main() -> Result<(), rust_xlsxwriter::XlsxError> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/sample/核酸结果导出样例.xlsx");
    let expect = sample::write_sample(&path)?;
    println!(
        "wrote {}: {} rows, {} with errors, {} repeated",
        path.to_string_lossy(),
        expect.total,
        expect.rejected,
        expect.duplicate
    );
    Ok(())
}
