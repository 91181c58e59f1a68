//! A strict reader of bare CEF lines (what `siemfwd replay --stdout` prints): the header split
//! on unescaped `|`, the extension into unescaped `key=value` pairs.

use std::collections::BTreeMap;

/// The extension of one CEF line, or why it is not one.
pub fn extension(line: &str) -> Result<BTreeMap<String, String>, String> {
    let rest = line
        .strip_prefix("CEF:0|")
        .ok_or_else(|| format!("not a CEF line: {line}"))?;
    // Six more header fields, each ending at an unescaped '|'.
    let mut bars = 0;
    let mut chars = rest.char_indices();
    let mut ext_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => {
                bars += 1;
                if bars == 6 {
                    ext_start = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let ext = &rest[ext_start.ok_or_else(|| format!("short CEF header: {line}"))?..];
    // Unescaped '=' mark the keys: each key runs back to the space before it.
    let mut eqs = Vec::new();
    let mut chars = ext.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '=' => eqs.push(i),
            _ => {}
        }
    }
    let key_start = |eq: usize| ext[..eq].rfind(' ').map_or(0, |s| s + 1);
    let mut fields = BTreeMap::new();
    for (n, &eq) in eqs.iter().enumerate() {
        let key = &ext[key_start(eq)..eq];
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad CEF key {key:?} in {line}"));
        }
        let end = eqs
            .get(n + 1)
            .map_or(ext.len(), |&next| key_start(next).saturating_sub(1));
        let value = unescape(&ext[eq + 1..end.max(eq + 1)]);
        if fields.insert(key.to_owned(), value).is_some() {
            return Err(format!("key {key} twice in {line}"));
        }
    }
    Ok(fields)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn cef_lines_are_split_on_unescaped_separators_only() {
    let f = extension(r"CEF:0|V|P|1.0|id|a \| b=c|5|externalId=x1 msg=a\=b c d=e rt=17").unwrap();
    assert_eq!(f["externalId"], "x1");
    assert_eq!(f["msg"], "a=b c");
    assert_eq!(f["d"], "e");
    assert_eq!(f["rt"], "17");
}
