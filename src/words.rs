//! Counts in words for messages: `1 record`, `2 records` (not `1 records`).

/// `n` and `noun`, the noun in the plural unless `n` is 1 (`noun` + "s").
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular() {
        assert_eq!(counted(1u32, "record"), "1 record");
        assert_eq!(counted(0u32, "record"), "0 records");
        assert_eq!(counted(2u64, "tenant"), "2 tenants");
    }
}
