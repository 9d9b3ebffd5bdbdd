//! Which results need a person soon (daily.md, "Positives first"): 阳性, or 待复核 (a mix of
//! gene targets, template.md). Positive rows are queued and sent ahead of the others, and
//! listed first wherever rows are listed.

/// Whether a result (as the profile mapped it) needs a person soon: 阳性, or 待复核 (a mix of
/// gene targets, template.md). A value the check refused is positive when it says 阳 or
/// positive in any spelling.
pub fn is_positive_result(result: &str) -> bool {
    let r = result.trim();
    if r == "阳性" || r == "待复核" {
        return true;
    }
    let upper = r.to_uppercase();
    (r.contains('阳') && !r.contains('阴'))
        || upper == "POSITIVE"
        || upper == "POS"
        || upper == "+"
        || r == "阳性(+)"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_results_are_known_in_every_spelling() {
        for p in ["阳性", "待复核", "阳", "阳性(+)", "POSITIVE", "pos", "+"] {
            assert!(is_positive_result(p), "{p}");
        }
        for n in ["阴性", "阴", "-", "NEGATIVE", "", "ORF1ab阴性，N基因阳性"] {
            assert!(!is_positive_result(n), "{n}");
        }
    }
}
