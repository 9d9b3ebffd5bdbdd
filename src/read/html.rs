use super::MemorySheet;
pub(super) fn parse(_text: &str) -> Vec<MemorySheet> {
    Vec::new()
}
