//! Direct upload (issue 4): targets (how to reach a platform), the HTTP client, the outbox that
//! loses nothing and sends nothing twice, and the ledger of confirmed rows.
//!
//! [`target::Target`] describes a platform; [`outbox::Outbox`] keeps batches and their states in
//! SQLite; [`send::send_due`] sends what is due through [`client::Client`] and applies each
//! outcome to the outbox in one transaction.

pub mod client;
pub mod outbox;
pub mod send;
pub mod target;

/// Masks ID and phone numbers in a message: every run of 11 or more digits (an `X` may follow
/// or sit among them, as in a resident ID) keeps its first 3 and last 4 characters.
pub fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || matches!(chars[i], 'X' | 'x')) {
                i += 1;
            }
            let run = &chars[start..i];
            if run.len() >= 11 {
                out.extend(&run[..3]);
                out.extend(std::iter::repeat_n('*', run.len() - 7));
                out.extend(&run[run.len() - 4..]);
            } else {
                out.extend(run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_ids_and_phones_only() {
        assert_eq!(
            mask("证件号 44010619900101123X 电话13812345678"),
            "证件号 440***********123X 电话138****5678"
        );
        assert_eq!(
            mask("HTTP 503 第 12 行 127.0.0.1:8080"),
            "HTTP 503 第 12 行 127.0.0.1:8080"
        );
    }
}
