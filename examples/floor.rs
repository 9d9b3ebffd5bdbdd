//! The benchmark's floor: read every cell of a sheet with calamine's streaming cell reader and
//! write it back unchanged with rust_xlsxwriter's constant-memory worksheet. `convert` cannot
//! be expected to beat doing nothing but this.
//!
//! `cargo run --release --example floor -- INPUT.xlsx OUTPUT.xlsx`

use calamine::{DataRef, Reader, Xlsx, open_workbook};
use rust_xlsxwriter::{Format, Workbook};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = match args.as_slice() {
        [_, i, o] => (i, o),
        _ => return Err("usage: floor INPUT.xlsx OUTPUT.xlsx".into()),
    };
    let start = Instant::now();
    let mut xlsx: Xlsx<_> = open_workbook(input)?;
    let sheet = xlsx.sheet_names().first().cloned().ok_or("no sheet")?;
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let ws = wb.add_worksheet_with_constant_memory()?;
    let mut reader = xlsx.worksheet_cells_reader(&sheet)?;
    let mut cells = 0u64;
    while let Some(cell) = reader.next_cell()? {
        let (r, c) = cell.get_position();
        let c = c as u16;
        match cell.get_value() {
            DataRef::String(s) => ws.write_string(r, c, s).map(|_| ())?,
            DataRef::SharedString(s) => ws.write_string(r, c, *s).map(|_| ())?,
            DataRef::Float(f) => ws.write_number(r, c, *f).map(|_| ())?,
            DataRef::Int(i) => ws.write_number(r, c, *i as f64).map(|_| ())?,
            DataRef::DateTime(d) => ws
                .write_number_with_format(r, c, d.as_f64(), &date)
                .map(|_| ())?,
            DataRef::Bool(b) => ws.write_boolean(r, c, *b).map(|_| ())?,
            _ => {}
        }
        cells += 1;
    }
    let read = start.elapsed();
    wb.save(output)?;
    eprintln!(
        "floor: {cells} cells; read+queue {:.1} s, total {:.1} s",
        read.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
