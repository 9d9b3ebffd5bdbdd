use super::MemorySheet;
pub(super) fn parse(_text: &str) -> Result<Vec<MemorySheet>, String> {
    Ok(Vec::new())
}
