//! JSON lines: the alert as the API sent it (every field, known or not), compacted onto one
//! line, with `tenantName` and `tenantId` put first. A JSON string cannot hold a raw CR or LF,
//! so a compact line is always one record.

use serde_json::Value;

use super::{EncodeError, EncodeStats, TenantIdentity, truncate_str};

pub(crate) fn encode(
    raw: &str,
    id: Option<&str>,
    tenant: TenantIdentity<'_>,
    max_bytes: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<EncodeStats, EncodeError> {
    let start = out.len();
    let unencodable = |reason: String| EncodeError::Unencodable {
        id: id.map(str::to_owned),
        reason,
    };
    write_line(raw, tenant, out).map_err(|e| unencodable(e.to_string()))?;
    let Some(budget) = max_bytes else {
        return Ok(EncodeStats::default());
    };
    if out.len() - start <= budget {
        return Ok(EncodeStats::default());
    }
    out.truncate(start);
    shrink(raw, id, tenant, budget, out)
}

/// Writes the line; refuses text that is not a JSON object (the readers hand out only
/// objects, but an encoder must not write a broken line whatever it is given).
fn write_line(raw: &str, tenant: TenantIdentity<'_>, out: &mut Vec<u8>) -> Result<(), NotAnObject> {
    let trimmed = raw.trim_ascii();
    let body = match trimmed.strip_prefix('{') {
        Some(b) if b.ends_with('}') => b,
        _ => return Err(NotAnObject),
    };
    // Without a tenant (`map` with no `--config`), no tenant members: empty ones would say a
    // tenant with no name (issue 18). An empty id is one the alert states itself.
    out.push(b'{');
    let mut with_tenant = false;
    for (key, value) in [("tenantName", tenant.name), ("tenantId", tenant.id)] {
        if value.is_empty() {
            continue;
        }
        if with_tenant {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        write_str(value, out);
        with_tenant = true;
    }
    let mark = out.len();
    minify(body, out);
    if with_tenant && out.get(mark) != Some(&b'}') {
        // The alert had members: separate them from ours.
        out.insert(mark, b',');
    }
    Ok(())
}

/// Text that [`write_line`] cannot write as a line: it is not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON object")]
pub(crate) struct NotAnObject;

/// A JSON string literal, escaped as [`minify`] leaves the alert's strings.
fn write_str(s: &str, out: &mut Vec<u8>) {
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('"');
    for c in s.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if is_control(c) => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    minify(&quoted, out);
}

/// C0, DEL and C1: the characters the README's one rule keeps off the wire raw. JSON has an
/// escape for each, so here they are written `\u00XX` (the decoded alert stays exact).
fn is_control(c: char) -> bool {
    c.is_control()
}

/// Bytes `s` takes inside a JSON string as [`write_line`] writes it.
fn escaped_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if is_control(c) => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Copies JSON text without the whitespace outside strings (JSON strings cannot hold a raw
/// newline, so the result is one line). DEL and C1 controls, which JSON allows raw in a
/// string, are written as `\u007f`..`\u009f`: no raw control character reaches a receiver.
pub(crate) fn minify(text: &str, out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if in_string {
            if b == 0x7f {
                out.extend_from_slice(b"\\u007f");
                escaped = false;
                continue;
            }
            if b == 0xc2 && bytes.get(i).is_some_and(|n| (0x80..=0x9f).contains(n)) {
                out.extend_from_slice(format!("\\u{:04x}", bytes[i]).as_bytes());
                i += 1;
                escaped = false;
                continue;
            }
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
}

/// Over budget: shorten the longest string values of the alert, longest first.
fn shrink(
    raw: &str,
    id: Option<&str>,
    tenant: TenantIdentity<'_>,
    budget: usize,
    out: &mut Vec<u8>,
) -> Result<EncodeStats, EncodeError> {
    let unencodable = |reason: String| EncodeError::Unencodable {
        id: id.map(str::to_owned),
        reason,
    };
    // The alert is read whole to find its strings. Text the reader took (it checks syntax,
    // not every escape) can still fail here: a lone surrogate `\ud800`, or nesting deeper than
    // serde_json's 128 levels. Such an alert cannot be shortened: a dead letter says why.
    let mut value: Value = serde_json::from_str(raw).map_err(|e| {
        unencodable(format!(
            "over max_message_bytes ({budget}) and cannot be shortened: {e}"
        ))
    })?;
    let text = |value: &Value| serde_json::to_string(value).map_err(|e| unencodable(e.to_string()));
    let mut line = Vec::new();
    write_line(&text(&value)?, tenant, &mut line).map_err(|e| unencodable(e.to_string()))?;
    let mut strings = Vec::new();
    collect_strings(&mut value, &mut strings);
    let lens: Vec<usize> = strings.iter().map(|s| escaped_len(s)).collect();
    let fixed = line.len().saturating_sub(lens.iter().sum::<usize>());
    if fixed > budget {
        return Err(EncodeError::TooLarge {
            id: id.map(str::to_owned),
            needed: fixed,
            budget,
        });
    }
    let room = budget - fixed;
    let (mut lo, mut hi) = (0usize, lens.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if lens.iter().map(|l| (*l).min(mid)).sum::<usize>() <= room {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    let mut stats = EncodeStats::default();
    for (s, len) in strings.into_iter().zip(lens) {
        if len <= lo {
            continue;
        }
        // Escapes make a string longer than its bytes: cut until the escaped form fits.
        let mut keep = truncate_str(s, lo).len();
        while keep > 0 && escaped_len(&s[..keep]) > lo {
            keep = truncate_str(s, keep - 1).len();
        }
        stats.budget_truncations += 1;
        stats.bytes_removed += (s.len() - keep) as u64;
        s.truncate(keep);
    }
    write_line(&text(&value)?, tenant, out).map_err(|e| unencodable(e.to_string()))?;
    Ok(stats)
}

fn collect_strings<'v>(v: &'v mut Value, out: &mut Vec<&'v mut String>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter_mut().for_each(|v| collect_strings(v, out)),
        Value::Object(o) => o.values_mut().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: TenantIdentity<'static> = TenantIdentity {
        name: "contoso",
        id: "t-1",
    };

    fn line(raw: &str, budget: Option<usize>) -> (String, EncodeStats) {
        let mut out = Vec::new();
        let stats = encode(raw, None, TENANT, budget, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), stats)
    }

    #[test]
    fn compact_with_tenant_first_and_unknown_fields_kept() {
        let (l, _) = line(
            "{\n  \"id\": \"a b\",\n  \"x\": {\"y\": [1, \"\\n\\\" z\"]}\n}\n",
            None,
        );
        assert_eq!(
            l,
            r#"{"tenantName":"contoso","tenantId":"t-1","id":"a b","x":{"y":[1,"\n\" z"]}}"#
        );
        let (l, _) = line("{}", None);
        assert_eq!(l, r#"{"tenantName":"contoso","tenantId":"t-1"}"#);
    }

    #[test]
    fn budget_shrinks_the_longest_strings() {
        let raw = format!(
            r#"{{"id":"keep","description":"{}","title":"short"}}"#,
            "é\\n".repeat(3000)
        );
        let (l, stats) = line(&raw, Some(1000));
        assert!(l.len() <= 1000, "{}", l.len());
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["id"], "keep");
        assert_eq!(v["title"], "short");
        assert!(v["description"].as_str().unwrap().starts_with("é\né\n"));
        assert_eq!(stats.budget_truncations, 1);
    }

    /// Regression: a lone surrogate or nesting deeper than 128 levels, in a field the model
    /// does not read, panicked the JSON encoder when the alert had to be shortened.
    #[test]
    fn an_alert_that_cannot_be_read_whole_is_refused_not_a_panic() {
        let long = "x".repeat(2000);
        let surrogate = format!(r#"{{"id":"s","x":"\ud800","d":"{long}"}}"#);
        let deep = format!(
            r#"{{"id":"n","x":{}1{},"d":"{long}"}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        for raw in [&surrogate, &deep] {
            // Within budget the text is copied as the API sent it.
            assert!(encode(raw, None, TENANT, None, &mut Vec::new()).is_ok());
            let e = encode(raw, Some("s"), TENANT, Some(1000), &mut Vec::new()).unwrap_err();
            assert!(matches!(e, EncodeError::Unencodable { .. }), "{e}");
            assert!(e.to_string().contains("cannot be shortened"), "{e}");
        }
        for not_object in [r#"["forged-id",123]"#, "7", "", "{", r#""{}""#] {
            let mut out = Vec::new();
            let e = encode(not_object, None, TENANT, None, &mut out).unwrap_err();
            assert!(e.to_string().contains("not a JSON object"), "{e}");
            assert!(out.is_empty());
        }
    }

    /// Regression: DEL and C1 controls (NEL) went out raw in JSON, against the README's rule
    /// that no format writes a control character raw.
    #[test]
    fn del_and_c1_controls_are_escaped() {
        let raw = "{\"id\":\"a\u{7f}b\u{85}c\u{9f}\u{a0}\",\"k\u{80}\":1}";
        let (l, _) = line(raw, None);
        assert_eq!(
            l,
            r#"{"tenantName":"contoso","tenantId":"t-1","id":"a\u007fb\u0085c\u009f\u00a0","k\u0080":1}"#
                .replace("\\u00a0", "\u{a0}")
        );
        assert!(!l.chars().any(char::is_control));
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["id"], "a\u{7f}b\u{85}c\u{9f}\u{a0}");
        // Shortened records keep the rule, and fit the budget with the longer escapes.
        let raw = format!(r#"{{"id":"x","d":"{}"}}"#, "\u{85}".repeat(1000));
        let (l, _) = line(&raw, Some(600));
        assert!(l.len() <= 600, "{}", l.len());
        assert!(!l.chars().any(char::is_control));
        let tenant = TenantIdentity {
            name: "a\u{85}\u{1b}\"",
            id: "t",
        };
        let mut out = Vec::new();
        encode("{}", None, tenant, None, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"tenantName":"a\u0085\u001b\"","tenantId":"t"}"#
        );
    }
}
