//! The shipped mappings' contracts (CEF and LEEF fields, severities, escaping), budgets and
//! mapping errors, and property tests that no alert text can break a record.
//!
//! Long because the contracts are written out field by field against the shipped
//! `mappings/*.toml`, and the property tests need their generators beside them; the cases share
//! the `input`/`encode` helpers and the test tenant at the top.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::alert::Alert;

const TENANT: TenantIdentity<'static> = TenantIdentity {
    name: "contoso",
    id: "00000000-0000-0000-0000-000000000001",
};

/// Header fields, then `(key, value)` pairs, as a decoder sees them.
pub(crate) type Decoded = (Vec<String>, Vec<(String, String)>);

/// A strict CEF decoder for tests: header escapes `\\` and `\|` only; extension escapes
/// `\\ \= \n \r` only; no raw `=`, CR or LF in a value. Returns (header, extension).
pub(crate) fn decode_cef(line: &str) -> Result<Decoded, String> {
    if line.contains(['\r', '\n']) {
        return Err("raw CR or LF in the record".into());
    }
    let rest = line.strip_prefix("CEF:0|").ok_or("no CEF:0| prefix")?;
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.char_indices();
    let mut ext_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '|'))) => cur.push(e),
                other => return Err(format!("bad header escape \\{other:?}")),
            },
            '|' => {
                header.push(std::mem::take(&mut cur));
                if header.len() == 6 {
                    ext_start = Some(i + 1);
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    let ext = &rest[ext_start.ok_or("fewer than 7 header fields")?..];
    let mut fields = Vec::new();
    if ext.is_empty() {
        return Ok((header, fields));
    }
    // Split before every " key=" where key is [A-Za-z0-9_]+ and the '=' is not escaped.
    let bytes = ext.as_bytes();
    let mut starts = vec![0];
    for i in 0..bytes.len() {
        if bytes[i] == b' ' {
            let k = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if k > 0 && bytes.get(i + 1 + k) == Some(&b'=') {
                starts.push(i + 1);
            }
        }
    }
    starts.push(bytes.len() + 1);
    for w in starts.windows(2) {
        let pair = &ext[w[0]..w[1] - 1];
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| format!("no = in {pair:?}"))?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("bad key {key:?}"));
        }
        let mut value = String::new();
        let mut it = raw.chars();
        while let Some(c) = it.next() {
            match c {
                '\\' => match it.next() {
                    Some('\\') => value.push('\\'),
                    Some('=') => value.push('='),
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    other => return Err(format!("bad extension escape \\{other:?}")),
                },
                '=' => return Err(format!("unescaped = in value of {key}")),
                c => value.push(c),
            }
        }
        fields.push((key.to_owned(), value));
    }
    Ok((header, fields))
}

/// A LEEF decoder for tests: header split on `|`, attributes on the delimiter, key at the first
/// `=`. Returns (header fields after the version, attributes).
pub(crate) fn decode_leef(line: &str) -> Result<Decoded, String> {
    if line.contains(['\r', '\n']) {
        return Err("raw CR or LF in the record".into());
    }
    let (delim, header, attrs) = if let Some(rest) = line.strip_prefix("LEEF:2.0|") {
        let parts: Vec<&str> = rest.splitn(6, '|').collect();
        if parts.len() != 6 {
            return Err("LEEF 2.0 needs 6 header fields".into());
        }
        let d = leef::parse_delimiter(parts[4]).map_err(|e| e.to_string())?;
        (d, parts[..4].to_vec(), parts[5])
    } else if let Some(rest) = line.strip_prefix("LEEF:1.0|") {
        let parts: Vec<&str> = rest.splitn(5, '|').collect();
        if parts.len() != 5 {
            return Err("LEEF 1.0 needs 5 header fields".into());
        }
        ('\t', parts[..4].to_vec(), parts[4])
    } else {
        return Err("no LEEF prefix".into());
    };
    let mut out = Vec::new();
    if !attrs.is_empty() {
        for a in attrs.split(delim) {
            let (k, v) = a.split_once('=').ok_or_else(|| format!("no = in {a:?}"))?;
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    Ok((header.into_iter().map(str::to_owned).collect(), out))
}

fn input(json: &str) -> InputAlert<'_> {
    InputAlert {
        alert: Alert::from_json(json).unwrap(),
        raw: Some(json),
        position: crate::reader::Position {
            line: 1,
            index: None,
        },
    }
}

fn encode(
    m: &Mapping,
    json: &str,
    budget: Option<usize>,
) -> Result<(String, EncodeStats), EncodeError> {
    let mut out = Vec::new();
    let stats = m.encode(&input(json), TENANT, budget, &mut out)?;
    Ok((String::from_utf8(out).unwrap(), stats))
}

const REALISTIC: &str = r#"{
  "id": "da637472900382838869_1364969609", "incidentId": 1126093, "investigationId": null,
  "severity": "High", "status": "New", "classification": "TruePositive", "determination": "Malware",
  "detectionSource": "WindowsDefenderAv", "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952",
  "category": "Malware", "threatName": "Trojan:Win32/Emotet", "title": "'Emotet' malware was detected",
  "description": "Malware and unwanted software...\nLine two",
  "alertCreationTime": "2026-11-22T10:15:59.1234567Z", "firstEventTime": "2026-11-22T10:14:00Z",
  "lastEventTime": "2026-11-22T10:15:00.5Z", "lastUpdateTime": "2026-11-22T10:15:57.7220239Z",
  "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625", "computerDnsName": "ws-fin-042.contoso.local",
  "aadTenantId": "a839b112-1253-6432-9bf6-94542403f21c", "mitreTechniques": ["T1059.001", "T1105"],
  "relatedUser": {"userName": "jdoe", "domainName": "CONTOSO"},
  "evidence": [
    {"entityType": "User", "accountName": "jdoe"},
    {"entityType": "Process", "fileName": "powershell.exe", "filePath": "C:\\Windows\\System32",
     "sha1": "a4f4a7c5e0f0b3a1d2c3e4f5a6b7c8d9e0f1a2b3", "sha256": "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
     "processCommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA"},
    {"entityType": "Ip", "ipAddress": "203.0.113.45"},
    {"entityType": "Url", "url": "http://malicious.example.com/payload?a=1&b=2"}
  ]
}"#;

#[test]
fn builtin_mappings_compile() {
    assert_eq!(Mapping::builtin(Format::Cef).format(), Format::Cef);
    assert_eq!(Mapping::builtin(Format::Leef).format(), Format::Leef);
    assert_eq!(Mapping::builtin(Format::Cef).version(), "1.0");
}

#[test]
fn default_cef_mapping_contract() {
    let (line, stats) = encode(&Mapping::builtin(Format::Cef), REALISTIC, None).unwrap();
    assert!(!stats.truncated());
    let (header, ext) = decode_cef(&line).unwrap();
    assert_eq!(
        header,
        [
            "Microsoft",
            "Microsoft Defender for Endpoint",
            "1.0",
            "17e10bbc-3a68-474a-8aad-faef14d43952",
            "'Emotet' malware was detected",
            "8"
        ]
    );
    let ext: BTreeMap<_, _> = ext.into_iter().collect();
    let want: BTreeMap<String, String> = [
        ("externalId", "da637472900382838869_1364969609"),
        ("rt", "1795342557722"),
        ("start", "1795342440000"),
        ("end", "1795342500500"),
        ("cat", "Malware"),
        ("msg", "Malware and unwanted software...\nLine two"),
        ("shost", "ws-fin-042.contoso.local"),
        ("suser", "jdoe"),
        ("sntdom", "CONTOSO"),
        ("sourceServiceName", "WindowsDefenderAv"),
        ("cs1", "Trojan:Win32/Emotet"),
        ("cs1Label", "ThreatName"),
        ("fname", "powershell.exe"),
        ("filePath", "C:\\Windows\\System32"),
        ("fileHash", "a4f4a7c5e0f0b3a1d2c3e4f5a6b7c8d9e0f1a2b3"),
        (
            "cs6",
            "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
        ),
        ("cs6Label", "Sha256"),
        ("src", "203.0.113.45"),
        ("request", "http://malicious.example.com/payload?a=1&b=2"),
        (
            "flexString1",
            "https://security.microsoft.com/alerts/da637472900382838869_1364969609",
        ),
        ("flexString1Label", "AlertLink"),
        ("cs2", "a839b112-1253-6432-9bf6-94542403f21c"),
        ("cs2Label", "TenantId"),
        ("cs3", "contoso"),
        ("cs3Label", "Tenant"),
        ("flexString2", "1126093"),
        ("flexString2Label", "IncidentId"),
        ("MdeStatus", "New"),
        ("MdeClassification", "TruePositive"),
        ("MdeDetermination", "Malware"),
        ("MdeMitreTechniques", "T1059.001,T1105"),
        ("MdeMachineId", "111e6dd8c833c8a052ea231ec1b19adaf497b625"),
        (
            "MdeProcessCommandLine",
            "powershell.exe -nop -w hidden -enc SQBFAFgA",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(ext, want);
}

#[test]
fn missing_values_drop_their_keys_and_labels() {
    let (line, _) = encode(
        &Mapping::builtin(Format::Cef),
        r#"{"id":"x","category":"Malware"}"#,
        None,
    )
    .unwrap();
    assert_eq!(
        line,
        "CEF:0|Microsoft|Microsoft Defender for Endpoint|1.0|Malware||0|externalId=x cat=Malware \
         flexString1=https://security.microsoft.com/alerts/x flexString1Label=AlertLink \
         cs2=00000000-0000-0000-0000-000000000001 cs2Label=TenantId cs3=contoso cs3Label=Tenant"
    );
}

#[test]
fn severity_scale_cef_and_leef() {
    for (sev, cef, leef) in [
        ("Informational", "1", "1"),
        ("Low", "3", "3"),
        ("Medium", "5", "5"),
        ("High", "8", "8"),
        ("UnSpecified", "0", "1"),
        ("Brand-new", "0", "1"),
    ] {
        let json = format!(r#"{{"severity":"{sev}"}}"#);
        let (line, _) = encode(&Mapping::builtin(Format::Cef), &json, None).unwrap();
        assert_eq!(decode_cef(&line).unwrap().0[5], cef, "{sev}");
        let (line, _) = encode(&Mapping::builtin(Format::Leef), &json, None).unwrap();
        let attrs = decode_leef(&line).unwrap().1;
        assert!(
            attrs.contains(&("sev".into(), leef.into())),
            "{sev}: {line}"
        );
    }
}

#[test]
fn default_leef_mapping_header_and_attributes() {
    let (line, _) = encode(&Mapping::builtin(Format::Leef), REALISTIC, None).unwrap();
    assert!(line.starts_with(
        "LEEF:2.0|Microsoft|Microsoft Defender for Endpoint|1.0|17e10bbc-3a68-474a-8aad-faef14d43952|x09|devTime=1795342557722\tsev=8\tcat=Malware\t"
    ), "{line}");
    let (_, attrs) = decode_leef(&line).unwrap();
    let attrs: BTreeMap<_, _> = attrs.into_iter().collect();
    assert_eq!(attrs["usrName"], "jdoe");
    assert_eq!(attrs["src"], "203.0.113.45");
    assert_eq!(attrs["url"], "http://malicious.example.com/payload?a=1&b=2");
    assert_eq!(attrs["tenantId"], "a839b112-1253-6432-9bf6-94542403f21c");
    assert_eq!(attrs["tenantName"], "contoso");
    assert_eq!(attrs["alertId"], "da637472900382838869_1364969609");
    assert_eq!(attrs["title"], "'Emotet' malware was detected");
    assert_eq!(attrs["hostName"], "ws-fin-042.contoso.local");
    // LEEF cannot escape: the newline became a space.
    assert_eq!(
        attrs["description"],
        "Malware and unwanted software... Line two"
    );
}

#[test]
fn leef_1_0_and_a_caret_delimiter() {
    let v1 = BUILTIN_LEEF
        .replace("leef_version = \"2.0\"", "leef_version = \"1.0\"")
        .replace("delimiter = \"x09\"", "");
    let m = Mapping::from_toml("v1.toml", &v1).unwrap();
    let (line, _) = encode(&m, r#"{"id":"a\tb","category":"C|x"}"#, None).unwrap();
    assert!(
        line.starts_with(
            "LEEF:1.0|Microsoft|Microsoft Defender for Endpoint|1.0|C x|sev=1\tcat=C|x\t"
        ),
        "{line}"
    );
    let (_, attrs) = decode_leef(&line).unwrap();
    assert!(attrs.contains(&("alertId".into(), "a b".into())));
    let caret = BUILTIN_LEEF.replace("delimiter = \"x09\"", "delimiter = \"^\"");
    let m = Mapping::from_toml("caret.toml", &caret).unwrap();
    let (line, _) = encode(&m, r#"{"id":"a^b\tc"}"#, None).unwrap();
    assert!(line.contains("|^|"), "{line}");
    let (_, attrs) = decode_leef(&line).unwrap();
    assert!(
        attrs.contains(&("alertId".into(), "a b\tc".into())),
        "{line}"
    );
}

#[test]
fn cef_escaping_tables() {
    let mut out = Vec::new();
    cef::escape_header("a|b\\c=d\re\nf\tg\x1bh", &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "a\\|b\\\\c=d e f\tg h");
    let mut out = Vec::new();
    cef::escape_value("a|b\\c=d\re\nf\tg\"h\x07", &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "a|b\\\\c\\=d\\re\\nf\tg\"h "
    );
}

/// Every length up to 70 with one character to escape (or a C1 control, two bytes) at every
/// place: each of the windows the escaper looks through, and each place where they overlap.
#[test]
fn cef_escaping_finds_a_special_at_every_place_of_every_length() {
    for len in 1..=70 {
        for at in 0..len {
            for special in [
                '\\', '=', '|', '\n', '\r', '\t', '\x1b', '\x7f', '\u{85}', '\u{a0}', 'é',
            ] {
                let text: String = (0..len)
                    .map(|i| if i == at { special } else { 'a' })
                    .collect();
                assert_cef_escaping_follows_the_rule(&text);
            }
        }
    }
}

/// Escapes `text` as a header field and as an extension value and compares both with the rule
/// written character by character.
fn assert_cef_escaping_follows_the_rule(text: &str) {
    let rule = |header: bool| -> String {
        text.chars()
            .map(|c| match c {
                '\\' => "\\\\".to_owned(),
                '|' if header => "\\|".to_owned(),
                '=' if !header => "\\=".to_owned(),
                '\n' if !header => "\\n".to_owned(),
                '\r' if !header => "\\r".to_owned(),
                c if cef::is_replaced(c) || c == '\r' || c == '\n' => " ".to_owned(),
                c => c.to_string(),
            })
            .collect()
    };
    let mut out = Vec::new();
    cef::escape_header(text, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        rule(true),
        "header {text:?}"
    );
    let mut out = Vec::new();
    cef::escape_value(text, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        rule(false),
        "value {text:?}"
    );
}

#[test]
fn leef_cleaning_tables() {
    let mut out = Vec::new();
    leef::clean_header("a|b\r\nc=d\te", &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "a b  c=d e");
    let mut out = Vec::new();
    leef::clean_value("a|b\r\nc=d\te^f", '\t', &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "a|b  c=d e^f");
    let mut out = Vec::new();
    leef::clean_value("a|b\r\nc=d\te^f", '^', &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "a|b  c=d\te f");
    assert_eq!(leef::delimiter_field('\t'), "x09");
    assert_eq!(leef::delimiter_field('^'), "^");
    assert_eq!(leef::parse_delimiter("0x5E").unwrap(), '^');
    assert!(leef::parse_delimiter("=").is_err());
    assert!(leef::parse_delimiter("ab").is_err());
}

#[test]
fn cef_values_are_cut_to_the_dictionary_length_on_char_boundaries() {
    let title = "日".repeat(200); // 600 bytes > 512
    let threat = format!("{}€tail", "a".repeat(3999)); // € straddles byte 4000
    let json =
        serde_json::json!({"id": "x".repeat(50), "title": title, "threatName": threat}).to_string();
    let (line, stats) = encode(&Mapping::builtin(Format::Cef), &json, None).unwrap();
    let (header, ext) = decode_cef(&line).unwrap();
    assert_eq!(header[4], "日".repeat(170)); // 510 bytes
    let ext: BTreeMap<_, _> = ext.into_iter().collect();
    assert_eq!(ext["cs1"], "a".repeat(3999));
    assert_eq!(ext["externalId"], "x".repeat(40));
    assert_eq!(stats.dictionary_truncations, 3);
}

#[test]
fn a_forged_syslog_line_in_a_description_stays_inside_one_record() {
    let desc = "legit\n<13>1 2026-11-22T10:00:00Z evil siemfwd - - - CEF:0|Microsoft|x|1|forged|F|10|externalId=FORGED\r\nmore";
    let json = serde_json::json!({"id": "adv", "description": desc}).to_string();
    for format in [Format::Cef, Format::Leef, Format::Json] {
        let (line, _) = encode(&Mapping::builtin(format), &json, None).unwrap();
        assert!(!line.contains(['\n', '\r']), "{format}: {line}");
    }
    let (line, _) = encode(&Mapping::builtin(Format::Cef), &json, None).unwrap();
    let ext: BTreeMap<_, _> = decode_cef(&line).unwrap().1.into_iter().collect();
    assert_eq!(ext["msg"], desc);
    assert_eq!(ext["externalId"], "adv");
}

#[test]
fn budget_shrinks_longest_values_first_and_never_cuts_the_record() {
    let json = serde_json::json!({
        "id": "keep-me", "title": "short title", "category": "Malware",
        "description": "d=".repeat(30_000), "threatName": "t\\".repeat(2000)
    })
    .to_string();
    let m = Mapping::builtin(Format::Cef);
    let (full, _) = encode(&m, &json, None).unwrap();
    for budget in [8192, 2048, 700] {
        let (line, stats) = encode(&m, &json, Some(budget)).unwrap();
        assert!(line.len() <= budget, "{budget}: {}", line.len());
        if full.len() > budget {
            // Only character boundaries and two-byte escapes may leave a few bytes unused.
            assert!(
                line.len() > budget - 8,
                "budget {budget} badly used: {}",
                line.len()
            );
            assert!(stats.budget_truncations >= 1);
        } else {
            assert_eq!(line, full);
        }
        let (header, ext) = decode_cef(&line).unwrap();
        let ext: BTreeMap<_, _> = ext.into_iter().collect();
        // Short values are untouched; long ones are prefixes of what they were.
        assert_eq!(header[4], "short title");
        assert_eq!(ext["externalId"], "keep-me");
        let (_, full_ext) = decode_cef(&full).unwrap();
        let full_ext: BTreeMap<_, _> = full_ext.into_iter().collect();
        assert!(full_ext["msg"].starts_with(&ext["msg"]));
        assert!(full_ext["cs1"].starts_with(&ext["cs1"]));
    }
    let err = encode(&m, &json, Some(50)).unwrap_err();
    assert!(
        matches!(err, EncodeError::TooLarge { budget: 50, .. }),
        "{err}"
    );
}

#[test]
fn mapping_errors_name_file_line_and_key() {
    let bad = BUILTIN_CEF.replace("msg = \"description\"", "msg = \"descripton\"");
    let e = Mapping::from_toml("my.toml", &bad).unwrap_err().to_string();
    let line = BUILTIN_CEF
        .lines()
        .position(|l| l.starts_with("msg ="))
        .unwrap()
        + 1;
    assert!(
        e.starts_with(&format!(
            "my.toml:{line}: `fields.msg`: unknown alert field `descripton`"
        )),
        "{e}"
    );

    let e = Mapping::from_toml(
        "my.toml",
        &BUILTIN_CEF.replace("[fields]", "[fields]\n\"bad key\" = \"id\""),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("not a valid CEF extension key"),
        "{e}"
    );

    let e = Mapping::from_toml("my.toml", &format!("surprise = 1\n{BUILTIN_CEF}")).unwrap_err();
    assert!(e.to_string().contains("unknown field `surprise`"), "{e}");

    let e =
        Mapping::from_toml("my.toml", &BUILTIN_CEF.replace("name = \"title\"", "")).unwrap_err();
    assert!(e.to_string().contains("`header.name`: missing"), "{e}");

    let e = Mapping::from_toml(
        "my.toml",
        &BUILTIN_LEEF.replace("delimiter = \"x09\"", "delimiter = \"=\""),
    )
    .unwrap_err();
    assert!(e.to_string().contains("`delimiter`"), "{e}");

    let label = format!("cs1Label = \"'{}'\"", "x".repeat(1024));
    let long_label = BUILTIN_CEF.replace("cs1Label = \"'ThreatName'\"", &label);
    let e = Mapping::from_toml("my.toml", &long_label).unwrap_err();
    assert!(
        e.to_string()
            .contains("`fields.cs1Label`: this literal is 1024 bytes, over the 1023"),
        "{e}"
    );
}

#[test]
fn json_format_keeps_unknown_fields_and_adds_the_tenant() {
    let (line, _) = encode(&Mapping::builtin(Format::Json), REALISTIC, None).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let orig: serde_json::Value = serde_json::from_str(REALISTIC).unwrap();
    assert_eq!(v["tenantName"], "contoso");
    assert_eq!(v["tenantId"], TENANT.id);
    let mut v = v;
    v.as_object_mut().unwrap().shift_remove("tenantName");
    v.as_object_mut().unwrap().shift_remove("tenantId");
    assert_eq!(v, orig);
}

fn arb_text() -> impl Strategy<Value = String> {
    // Anything, with the characters that matter over-represented.
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            4 => prop::sample::select(vec!['\\', '=', '|', '\r', '\n', '\t', '^', '"', ' ', 'é', '日', '\u{2028}', '\x1b', '\u{85}', '\u{9b}', '\u{a0}']),
        ],
        0..64,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// What a value decodes to: other C0 controls became spaces, the rest is kept.
fn controls_to_space(s: &str, keep: &[char]) -> String {
    s.chars()
        .map(|c| {
            if (c < ' ' || ('\x7f'..='\u{9f}').contains(&c)) && !keep.contains(&c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

const PROP_CEF: &str = r#"
format = "cef"
version = "1"
[header]
vendor = "'V'"
product = "'P'"
event_class_id = "category"
name = "title"
severity = "'5'"
[fields]
msg = "description"
custom_1 = "threatName"
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cef_round_trips_arbitrary_text(title in arb_text(), desc in arb_text(), cat in arb_text(), threat in arb_text()) {
        let m = Mapping::from_toml("prop.toml", PROP_CEF).unwrap();
        let json = serde_json::json!({"title": title, "description": desc, "category": cat, "threatName": threat}).to_string();
        let (line, _) = encode(&m, &json, None).unwrap();
        let (header, ext) = decode_cef(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
        prop_assert_eq!(&header[3], &controls_to_space(&cat, &['\t']));
        prop_assert_eq!(&header[4], &controls_to_space(&title, &['\t']));
        let ext: BTreeMap<_, _> = ext.into_iter().collect();
        prop_assert_eq!(ext.get("msg").cloned().unwrap_or_default(), controls_to_space(&desc, &['\t', '\r', '\n']));
        prop_assert_eq!(ext.get("custom_1").cloned().unwrap_or_default(), controls_to_space(&threat, &['\t', '\r', '\n']));
    }

    /// Escaping looks 32 bytes at a time, then at windows that end where the text ends: a
    /// character that needs escaping anywhere after long clean runs is still found.
    #[test]
    fn cef_escaping_finds_every_special_after_long_clean_runs(
        parts in prop::collection::vec((0usize..80, prop::sample::select(vec!['\\', '=', '|', '\r', '\n', '\t', '\x1b', '\x7f', '\u{85}', '\u{9f}', '\u{a0}', 'é', 'x'])), 0..6)
    ) {
        let text: String = parts.iter().flat_map(|(run, c)| std::iter::repeat_n('a', *run).chain([*c])).collect();
        assert_cef_escaping_follows_the_rule(&text);
    }

    #[test]
    fn leef_round_trips_arbitrary_text(title in arb_text(), desc in arb_text(), delim in prop::sample::select(vec!["x09", "^", "x5E", "~"])) {
        let text = BUILTIN_LEEF.replace("delimiter = \"x09\"", &format!("delimiter = \"{delim}\""));
        let m = Mapping::from_toml("prop.toml", &text).unwrap();
        let d = leef::parse_delimiter(delim).unwrap();
        let json = serde_json::json!({"title": title, "description": desc, "category": title}).to_string();
        let (line, _) = encode(&m, &json, None).unwrap();
        let (header, attrs) = decode_leef(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
        let ctl = |c: char| (c < ' ' && c != '\t') || ('\x7f'..='\u{9f}').contains(&c);
        let clean = |s: &str| s.chars().map(|c| if c == d || ctl(c) { ' ' } else { c }).collect::<String>();
        let clean_header = |s: &str| s.chars().map(|c| if c == '|' || c == '\t' || ctl(c) { ' ' } else { c }).collect::<String>();
        let event_id = if title.is_empty() { "MdeAlert".to_owned() } else { clean_header(&title) };
        prop_assert_eq!(&header[3], &event_id);
        let attrs: BTreeMap<_, _> = attrs.into_iter().collect();
        prop_assert_eq!(attrs.get("title").cloned().unwrap_or_default(), clean(&title));
        prop_assert_eq!(attrs.get("description").cloned().unwrap_or_default(), clean(&desc));
    }

    #[test]
    fn a_budget_is_always_kept_and_values_stay_prefixes(desc in arb_text(), title in arb_text(), budget in 120usize..600) {
        let m = Mapping::from_toml("prop.toml", PROP_CEF).unwrap();
        let desc = desc.repeat(8);
        let json = serde_json::json!({"title": title, "description": desc, "category": "c"}).to_string();
        let (full, _) = encode(&m, &json, None).unwrap();
        let (line, _) = encode(&m, &json, Some(budget)).unwrap();
        prop_assert!(line.len() <= budget);
        let (fh, fe) = decode_cef(&full).unwrap();
        let (h, e) = decode_cef(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
        prop_assert!(fh[4].starts_with(&h[4]));
        let fe: BTreeMap<_, _> = fe.into_iter().collect();
        for (k, v) in e {
            prop_assert!(fe[&k].starts_with(&v), "{} cut wrongly", k);
        }
    }
}

/// Regression: liblognorm rejects a whole event with `key=` and nothing after it, so a value
/// that the budget shortens to nothing must take its key (and its label) out of the record.
#[test]
fn a_value_emptied_by_the_budget_leaves_no_empty_key() {
    let text = r#"
format = "cef"
version = "1"
[header]
vendor = "'V'"
product = "'P'"
event_class_id = "'E'"
name = "'N'"
severity = "'5'"
[fields]
msg = "description"
cs1 = "threatName"
cs1Label = "'Threat'"
"#;
    let m = Mapping::from_toml("t.toml", text).unwrap();
    let json = serde_json::json!({"description": "d".repeat(500), "threatName": "t".repeat(500)})
        .to_string();
    // Room for the header and the keys, not for any value.
    let budget = "CEF:0|V|P|1|E|N|5|msg= cs1= cs1Label=Threat".len();
    let (line, stats) = encode(&m, &json, Some(budget)).unwrap();
    assert_eq!(line, "CEF:0|V|P|1|E|N|5|");
    assert_eq!(stats.budget_truncations, 2);
    decode_cef(&line).unwrap();
}
