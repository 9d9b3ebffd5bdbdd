//! Which results need a person soon (daily.md, "Positives first"): 阳性, or 待复核 (a mix of
//! gene targets), as template.md maps them. Positive rows are queued and sent ahead of the
//! others, and listed first wherever rows are listed.

/// Whether a result, as the profile mapped it, needs a person soon: 阳性 or 待复核. Every
/// spelling the template knows (阳, 阳性(+), POS, a positive gene target...) is mapped to these
/// by the check; a value the check refused (`弱阳`) is an error of its own for the clerk, not a
/// result to send ahead.
pub fn is_positive_result(result: &str) -> bool {
    matches!(result.trim(), "阳性" | "待复核")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_results_are_the_template_s_two() {
        for p in ["阳性", "待复核", " 阳性 "] {
            assert!(is_positive_result(p), "{p}");
        }
        for n in ["阴性", "阳", "弱阳", "POS", "", "ORF1ab阴性，N基因阳性"] {
            assert!(!is_positive_result(n), "{n}");
        }
    }
}
