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
    write_line(raw, tenant, out);
    let Some(budget) = max_bytes else {
        return Ok(EncodeStats::default());
    };
    if out.len() - start <= budget {
        return Ok(EncodeStats::default());
    }
    out.truncate(start);
    shrink(raw, id, tenant, budget, out)
}

fn write_line(raw: &str, tenant: TenantIdentity<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"tenantName\":");
    serde_json::to_writer(&mut *out, tenant.name).expect("writing to a Vec");
    out.extend_from_slice(b",\"tenantId\":");
    serde_json::to_writer(&mut *out, tenant.id).expect("writing to a Vec");
    let body = raw.trim_start().strip_prefix('{').unwrap_or(raw);
    let mark = out.len();
    minify(body, out);
    if out.get(mark) != Some(&b'}') {
        // The alert had members: separate them from ours.
        out.insert(mark, b',');
    }
}

/// Copies JSON text without the whitespace outside strings (JSON strings cannot hold a raw
/// newline, so the result is one line).
pub(crate) fn minify(text: &str, out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if in_string {
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
    let mut value: Value = serde_json::from_str(raw).expect("raw alert text is valid JSON");
    let mut line = Vec::new();
    write_line(
        &serde_json::to_string(&value).expect("a Value serializes"),
        tenant,
        &mut line,
    );
    let mut strings = Vec::new();
    collect_strings(&mut value, &mut strings);
    let escaped_len = |s: &str| serde_json::to_string(s).map_or(s.len(), |e| e.len() - 2);
    let lens: Vec<usize> = strings.iter().map(|s| escaped_len(s)).collect();
    let fixed = line.len() - lens.iter().sum::<usize>();
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
        while escaped_len(&s[..keep]) > lo {
            keep = truncate_str(s, keep - 1).len();
        }
        stats.budget_truncations += 1;
        stats.bytes_removed += (s.len() - keep) as u64;
        s.truncate(keep);
    }
    write_line(
        &serde_json::to_string(&value).expect("a Value serializes"),
        tenant,
        out,
    );
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
}
