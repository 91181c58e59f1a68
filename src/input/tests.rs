use super::*;

/// What a reader produced, flattened for assertions: `Ok((id, position))` or `Err(malformed)`.
type Seen = Vec<Result<(Option<String>, Position), MalformedAlert>>;

fn read(text: &str) -> Seen {
    let mut seen = Vec::new();
    read_alerts(text.as_bytes(), |item| {
        seen.push(match item {
            Item::Alert(a) => {
                // The raw text must read back as the same alert.
                let again = Alert::from_json(a.raw.unwrap()).unwrap();
                assert_eq!(again.id(), a.alert.id());
                Ok((a.alert.id().map(str::to_owned), a.position))
            }
            Item::Malformed(m) => Err(m),
        });
        Ok::<_, ()>(())
    })
    .unwrap();
    seen
}

fn ids(seen: &Seen) -> Vec<String> {
    seen.iter()
        .filter_map(|r| r.as_ref().ok().and_then(|(id, _)| id.clone()))
        .collect()
}

fn pos(line: u64, index: Option<u64>) -> Position {
    Position { line, index }
}

#[test]
fn ndjson_lines_with_blank_lines() {
    let seen = read("{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n{\"id\":\"c\"}");
    assert_eq!(ids(&seen), ["a", "b", "c"]);
    assert_eq!(seen[2].as_ref().unwrap().1, pos(4, None));
}

#[test]
fn a_broken_ndjson_line_is_reported_and_the_rest_is_read() {
    let text = "{\"id\":\"a\"}\n{\"id\":\"b\",\"title\":\n{\"id\":\"c\",\"evidence\":\"x\"}\n42\n{\"id\":\"d\"}\n";
    let seen = read(text);
    assert_eq!(ids(&seen), ["a", "d"]);
    let bad: Vec<&MalformedAlert> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(bad.len(), 3);
    assert_eq!(bad[0].position, pos(2, None));
    assert_eq!(bad[1].position, pos(3, None));
    assert_eq!(bad[1].id.as_deref(), Some("c"));
    assert!(bad[1].reason.contains("invalid type"), "{}", bad[1].reason);
    assert_eq!(bad[2].position, pos(4, None));
}

#[test]
fn pretty_page_is_streamed_with_element_positions() {
    let text = "{\n  \"@odata.context\": \"x\",\n  \"value\": [\n    {\n      \"id\": \"a\"\n    },\n    {\"id\": \"b\", \"evidence\": 5},\n    {\n\"id\": \"c\"}\n  ]\n}\n";
    let seen = read(text);
    assert_eq!(ids(&seen), ["a", "c"]);
    assert_eq!(seen[0].as_ref().unwrap().1, pos(4, Some(1)));
    let bad = seen[1].as_ref().unwrap_err();
    assert_eq!(bad.position, pos(7, Some(2)));
    assert_eq!(bad.id.as_deref(), Some("b"));
    assert_eq!(seen[2].as_ref().unwrap().1, pos(8, Some(3)));
}

#[test]
fn one_line_page_and_one_line_array() {
    let seen = read("{\"value\":[{\"id\":\"a\"},{\"id\":\"b\"}]}\n[{\"id\":\"c\"}]\n");
    assert_eq!(ids(&seen), ["a", "b", "c"]);
    assert_eq!(seen[1].as_ref().unwrap().1, pos(1, Some(2)));
    assert_eq!(seen[2].as_ref().unwrap().1, pos(2, Some(1)));
}

#[test]
fn pretty_array_and_pretty_single_objects() {
    let seen = read("[\n {\"id\":\"a\"},\n {\"id\":\"b\"}\n]\n");
    assert_eq!(ids(&seen), ["a", "b"]);
    let seen = read("{\n  \"id\": \"solo\",\n  \"title\": \"x\"\n}\n{\n \"id\": \"second\"\n}\n");
    assert_eq!(ids(&seen), ["solo", "second"]);
    assert_eq!(seen[1].as_ref().unwrap().1, pos(5, None));
}

#[test]
fn a_syntax_error_in_a_document_ends_it_with_its_line() {
    let seen = read("[\n {\"id\":\"a\"},\n {\"id\": oops}\n]\n");
    assert_eq!(ids(&seen), ["a"]);
    let bad = seen[1].as_ref().unwrap_err();
    assert_eq!(bad.position.line, 3);
    assert!(
        bad.reason.contains("rest of this input is skipped"),
        "{}",
        bad.reason
    );
}

#[test]
fn the_consumer_can_stop_the_reader() {
    let mut n = 0;
    let r = read_alerts("{\"id\":\"a\"}\n{\"id\":\"b\"}\n".as_bytes(), |_| {
        n += 1;
        Err("stop")
    });
    assert!(matches!(r, Err(ReadError::Stopped("stop"))));
    assert_eq!(n, 1);
    let mut n = 0;
    let r = read_alerts("[\n{\"id\":\"a\"},\n{\"id\":\"b\"}]".as_bytes(), |_| {
        n += 1;
        Err("stop")
    });
    assert!(matches!(r, Err(ReadError::Stopped("stop"))));
    assert_eq!(n, 1);
}

#[test]
fn read_page_fast_path_and_fallback() {
    let page = br#"{"value":[{"id":"a"},{"id":"b","evidence":1},{"id":"c"}]}"#;
    let mut got = Vec::new();
    read_page(page, false, |item| {
        got.push(matches!(item, Item::Alert(_)));
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(got, [true, false, true]);
    let mut n = 0;
    read_page(br#"{"value":[{"id":"a"}]}"#, false, |item| {
        assert!(matches!(item, Item::Alert(InputAlert { raw: None, .. })));
        n += 1;
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(n, 1);
}

/// The typed pass hands out alerts as it reads them; when alert 2 turns out malformed, the
/// element-by-element fallback must not hand out alert 1 again.
#[test]
fn read_page_fallback_after_streamed_alerts_repeats_none() {
    let page = br#"{"@odata.context":"x","value":[{"id":"a"},{"id":"b","evidence":1},{"id":"c"}],"n":[1]}"#;
    let mut got = Vec::new();
    read_page(page, false, |item| {
        got.push(match item {
            Item::Alert(a) => (a.alert.id().unwrap().to_owned(), a.position.index),
            Item::Malformed(m) => (format!("bad {}", m.id.unwrap()), m.position.index),
        });
        Ok::<_, ()>(())
    })
    .unwrap();
    let want = [("a", 1), ("bad b", 2), ("c", 3)].map(|(id, i)| (id.to_owned(), Some(i)));
    assert_eq!(got, want);
}

#[test]
fn read_page_stops_at_the_sinks_error_without_falling_back() {
    let mut n = 0;
    let r = read_page(br#"{"value":[{"id":"a"},{"id":"b"}]}"#, false, |_| {
        n += 1;
        Err("full")
    });
    assert_eq!(r, Err("full"));
    assert_eq!(n, 1);
}

#[test]
fn read_page_finds_an_escaped_value_key_and_reports_a_missing_one() {
    let mut ids = Vec::new();
    read_page(br#"{"val\u0075e":[{"id":"a"}]}"#, false, |item| {
        if let Item::Alert(a) = item {
            ids.push(a.alert.id().unwrap().to_owned());
        }
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(ids, ["a"]);
    let mut malformed = 0;
    read_page(br#"{"values":[{"id":"a"}]}"#, false, |item| {
        assert!(matches!(item, Item::Malformed(_)));
        malformed += 1;
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(malformed, 1);
}

#[test]
fn empty_input_reads_nothing() {
    assert!(read("").is_empty());
    assert!(read("\n  \n").is_empty());
}

#[test]
fn shipped_realistic_page_takes_the_typed_fast_path() {
    #[derive(Deserialize)]
    struct TypedPage<'a> {
        #[serde(borrow)]
        value: Vec<Alert<'a>>,
    }
    let page = include_bytes!("../../examples/alerts/realistic-page.json");
    let parsed = serde_json::from_slice::<TypedPage>(page).unwrap();
    assert_eq!(parsed.value.len(), 9);
}
