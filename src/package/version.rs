//! Ordering of package versions, as the manifest's `version` field spells them ("1.10.0",
//! "2.0-rc1"). Display only: whether an install is allowed is decided by the signed
//! `rollback_index`, never by this ordering.

use std::cmp::Ordering;

/// Compares dotted versions part by part, numerically where both parts are numbers.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> Vec<String> {
        s.split(['.', '-', '+', '_'])
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (pa, pb) = (split(a), split(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).map(String::as_str).unwrap_or("0");
        let y = pb.get(i).map(String::as_str).unwrap_or("0");
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_parts_compare_as_numbers_and_missing_parts_as_zero() {
        assert_eq!(
            compare_versions("1.10.0", "1.9.2"),
            std::cmp::Ordering::Greater
        );
        assert_eq!(compare_versions("1.0", "1.0.0"), std::cmp::Ordering::Equal);
        assert_eq!(compare_versions("1.0.1", "1.0"), Ordering::Greater);
        assert_eq!(compare_versions("2", "10"), Ordering::Less);
    }

    #[test]
    fn every_separator_splits_and_other_parts_compare_as_text() {
        assert_eq!(compare_versions("1-2+3_4", "1.2.3.4"), Ordering::Equal);
        assert_eq!(compare_versions("2.0-rc2", "2.0-rc10"), Ordering::Greater);
        assert_eq!(compare_versions("2.0.beta", "2.0.alpha"), Ordering::Greater);
    }
}
