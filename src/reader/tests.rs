use super::*;

/// What a reader produced, flattened for assertions: `Ok((id, position))` or `Err(malformed)`.
type Seen = Vec<Result<(Option<String>, Position), MalformedAlert>>;

fn read(text: &str) -> Seen {
    read_bytes(text.as_bytes())
}

fn read_bytes(bytes: &[u8]) -> Seen {
    read_from(bytes)
}

fn read_from(input: impl BufRead) -> Seen {
    let mut seen = Vec::new();
    read_alerts(input, |item| {
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
fn the_line_after_an_element_of_hundreds_of_lines_is_counted_exactly() {
    // Line breaks are counted in blocks of 255 (a byte's sum): an element longer than a block
    // must not lose or gain any.
    let long = format!("{{\"id\": \"a\",{}\n\"title\": \"x\"}}", "\n".repeat(600));
    let text = format!("[\n{long},\n{{\"id\": \"b\"}}\n]\n");
    let seen = read(&text);
    assert_eq!(ids(&seen), ["a", "b"]);
    assert_eq!(seen[1].as_ref().unwrap().1, pos(604, Some(2)));
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
    assert!(matches!(r, Err(PageError::Stopped("full"))));
    assert_eq!(n, 1);
}

#[test]
fn read_page_finds_an_escaped_value_key_and_reports_a_missing_one() {
    let mut ids = Vec::new();
    read_page(br#"{"val\u0075e":[{"id":"a"}]}"#, false, |item| {
        if let Item::Malformed(m) = &item {
            eprintln!("MALFORMED {m:?}");
        }
        if let Item::Alert(a) = item {
            ids.push(a.alert.id().unwrap().to_owned());
        }
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(ids, ["a"]);
    let e = not_a_page(br#"{"values":[{"id":"a"}]}"#);
    assert!(e.what.contains("JSON that is not a page"), "{e}");
}

/// What `read_page` says of a body that is not a page, after checking that it handed out no
/// malformed alert (a page is all or nothing).
fn not_a_page(body: &[u8]) -> NotAPage {
    for want_raw in [false, true] {
        let r = read_page(body, want_raw, |item| match item {
            Item::Alert(_) => Ok(()),
            Item::Malformed(m) => Err(format!("a malformed alert instead of a bad page: {m}")),
        });
        match r {
            Err(PageError::NotAPage(e)) if !want_raw => return e,
            Err(PageError::NotAPage(_)) => {}
            Err(PageError::Stopped(m)) => panic!("{m}"),
            Ok(_) => panic!("read as a page: {}", String::from_utf8_lossy(body)),
        }
    }
    unreachable!()
}

/// Regression: a 200 with a proxy's HTML page, `{"message"}` or a body cut short was read as
/// one malformed alert; the window then counted as delivered and its alerts were lost.
#[test]
fn a_body_that_is_not_a_page_is_refused_whole() {
    let html = not_a_page(b"<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>");
    assert!(html.what.contains("HTML"), "{html}");
    assert!(
        html.first_bytes.starts_with("\"<!DOCTYPE html>\\n<html>"),
        "{html}"
    );
    let message = not_a_page(br#"{"message": "An error has occurred."}"#);
    assert!(message.what.contains("not a page"), "{message}");
    let page = br#"{"value":[{"id":"a"},{"id":"b"},{"id":"c"}]}"#;
    for cut in 1..page.len() - 1 {
        let e = not_a_page(&page[..cut]);
        assert!(!e.what.is_empty());
    }
    let cut = not_a_page(&page[..30]);
    assert!(cut.what.contains("cut short after 30 bytes"), "{cut}");
    let latin1 = not_a_page(b"{\"value\":[{\"id\":\"caf\xe9\"}]}");
    assert!(latin1.what.contains("not UTF-8 (at byte 20)"), "{latin1}");
    assert!(not_a_page(b"").what.contains("empty"));
    assert!(not_a_page(b"[]").what.contains("not a JSON object"));
    assert!(not_a_page(br#"{"value": 3}"#).what.contains("not a page"));
    assert!(
        not_a_page(br#"{"value":[{"id":"a"}]} trailing"#)
            .what
            .contains("broken JSON")
    );
    // Quoted with control characters escaped, and at most 120 bytes of a long body.
    let long = not_a_page(&[b'\x1b'; 500]);
    assert!(long.first_bytes.starts_with("\"\\u{1b}"), "{long}");
    assert!(long.first_bytes.ends_with("..."), "{long}");
}

/// Regression: `[["forged-id",123],{"id":"ok"}]` gave `externalId=forged-id`: serde's derive
/// takes an array as a struct, fields by position.
#[test]
fn an_element_that_is_not_an_object_is_a_malformed_alert() {
    let page = br#"{"value":[["forged-id",123],{"id":"ok"},["forged-id",null],"x",7,null,{"id":"e","evidence":[["File","f"]],"comments":[["c"]]}]}"#;
    for want_raw in [false, true] {
        let mut got = Vec::new();
        read_page(page, want_raw, |item| {
            got.push(match item {
                Item::Alert(a) => a.alert.id().unwrap_or("(none)").to_owned(),
                Item::Malformed(m) => {
                    format!("bad {} {:?}", m.position.index.unwrap(), m.id)
                }
            });
            Ok::<_, ()>(())
        })
        .unwrap();
        let want = [
            "bad 1 None",
            "ok",
            "bad 3 None",
            "bad 4 None",
            "bad 5 None",
            "bad 6 None",
            "bad 7 Some(\"e\")",
        ];
        assert_eq!(got, want);
    }
    assert!(Alert::from_json(r#"["forged-id",123]"#).is_err());
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

#[test]
fn a_page_says_whether_it_has_a_next_link_on_the_typed_path_and_the_fallback() {
    let read = |body: &[u8], want_raw| {
        read_page(body, want_raw, |_| Ok::<_, ()>(()))
            .map_err(|_| "not a page")
            .unwrap()
    };
    for want_raw in [false, true] {
        let linked = br#"{"@odata.nextLink":"https://graph.example/v1.0/security/alerts_v2?$skip=1","value":[{"id":"a"}]}"#;
        assert!(read(linked, want_raw).next_link);
        // A malformed alert sends the typed pass to the element-by-element fallback.
        let malformed =
            br#"{"value":[{"id":"a","lastUpdateTime":"yesterday"}],"@odata.nextLink":"x"}"#;
        assert!(read(malformed, want_raw).next_link);
        assert!(!read(br#"{"value":[{"id":"a"}]}"#, want_raw).next_link);
    }
}

/// Issue 21: alerts the schema's reader leaves to serde (a negative or fractional number, an
/// escaped member name) are read by serde where they lie, in order, and the page's count is
/// kept; a page inside the page is reported, never handed out as an alert.
#[test]
fn a_page_reads_what_the_schema_reader_leaves_to_serde_in_place() {
    let page = br#"{"@odata.count":4,"value":[{"id":"a"},{"id":"b","incidentId":-5},{"\u0069d":"c","incidentId":1.5},{"id":"d"}]}"#;
    let mut got = Vec::new();
    let info = read_page(page, false, |item| {
        let Item::Alert(a) = item else {
            panic!("every alert reads");
        };
        let incident = a.alert.incident_id.as_deref().map(str::to_owned);
        got.push((a.alert.id().unwrap().to_owned(), incident, a.position.index));
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(info.count, Some(4));
    let want = [
        ("a", None, 1),
        ("b", Some("-5"), 2),
        ("c", Some("1.5"), 3),
        ("d", None, 4),
    ]
    .map(|(id, n, i)| (id.to_owned(), n.map(str::to_owned), Some(i)));
    assert_eq!(got, want);

    let nested = br#"{"value":[{"id":"a"},{"value":[{"id":"x"}]},{"id":"c"}]}"#;
    let mut got = Vec::new();
    read_page(nested, false, |item| {
        got.push(match item {
            Item::Alert(a) => a.alert.id().unwrap().to_owned(),
            Item::Malformed(m) => format!("{} at {:?}", m.reason, m.position.index),
        });
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(got, ["a", "a page inside a page at Some(2)", "c"]);
}

/// Issue 21: an API page saved on one line longer than `FIRST_LINE_MAX` is streamed element
/// by element (memory holds one alert, not the page), with the same positions.
#[test]
fn a_one_line_page_longer_than_the_first_line_limit_is_streamed() {
    let pad = "x".repeat(3000);
    let alerts: Vec<String> = (0..2000)
        .map(|i| format!("{{\"id\":\"p{i}\",\"description\":\"{pad}\"}}"))
        .collect();
    let text = format!(
        "{{\"@odata.context\":\"c\",\"value\":[{}]}}\n",
        alerts.join(",")
    );
    assert!(text.len() > FIRST_LINE_MAX);
    let seen = read(&text);
    assert_eq!(seen.len(), 2000);
    assert_eq!(ids(&seen)[1999], "p1999");
    assert_eq!(seen[1999].as_ref().unwrap().1, pos(1, Some(2000)));
}

/// Elements larger than the reader's chunk, a page whose `value` key is written with an
/// escape, and an element that is not an object, in multi-line documents.
#[test]
fn streamed_documents_cross_chunks_escaped_keys_and_odd_elements() {
    let big = "y".repeat(700 * 1024);
    let text = format!(
        "[\n{{\"id\":\"a\",\"description\":\"{big}\"}},\n 7,\n{{\"id\":\"b\"}}\n]\n{{\n\"val\\u0075e\": [{{\"id\":\"c\"}}]\n}}\n"
    );
    let seen = read(&text);
    assert_eq!(ids(&seen), ["a", "b", "c"]);
    let odd = seen[1].as_ref().unwrap_err();
    assert_eq!(odd.position, pos(3, Some(2)));
    assert_eq!(seen[2].as_ref().unwrap().1, pos(4, Some(3)));
}

/// Regression: the window an array element is parsed in is kept near the last element's size
/// (it was never under 16 KiB, and checking it as UTF-8 made arrays 13-15 % slower to map than
/// NDJSON). Elements that outgrow it, shrink, or that the fast reader leaves to serde (a
/// duplicate member, a number it does not take) are all read, in order, at their positions.
#[test]
fn array_elements_of_changing_sizes_are_all_read_whatever_the_window() {
    let sizes = [
        10, 2_000, 100, 40_000, 5, 1_500, 1_600, 30_000, 0, 700, 3_000, 3_100,
    ];
    let elements: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| match i % 4 {
            // serde reads what the fast reader gives up on: a member named twice is refused,
            // a fractional incidentId is not.
            1 => format!(
                "{{\"id\":\"e{i}\",\"incidentId\":1.5,\"description\":\"{}\"}}",
                "d".repeat(n)
            ),
            3 => format!(
                "{{\"id\":\"e{i}\",\"title\":\"{}\",\"title\":\"again\"}}",
                "t".repeat(n)
            ),
            _ => format!(
                "{{\"id\":\"e{i}\",\"description\":\"{}\"}}",
                "é".repeat(n / 2)
            ),
        })
        .collect();
    for separator in [",", ",\n"] {
        let seen = read(&format!("[{}]", elements.join(separator)));
        assert_eq!(seen.len(), sizes.len());
        for (i, item) in seen.iter().enumerate() {
            let line = if separator == "," { 1 } else { 1 + i as u64 };
            match (i % 4, item) {
                (3, Err(malformed)) => {
                    assert_eq!(malformed.position, pos(line, Some(i as u64 + 1)))
                }
                (_, Ok((id, at))) => {
                    assert_eq!(id.as_deref(), Some(format!("e{i}").as_str()));
                    assert_eq!(*at, pos(line, Some(i as u64 + 1)));
                }
                (_, other) => panic!("element {i}: {other:?}"),
            }
        }
    }
}

/// A byte that is not UTF-8 inside the window of the element before it (the window reaches
/// into the next elements) costs that element neither its place nor its order: every element
/// of a streamed array is handed out, the damaged one refused with its id and its text.
#[test]
fn a_non_utf8_element_spoils_neither_its_neighbours_nor_their_order() {
    let mut text = b"[\n{\"id\":\"e0\"},\n{\"id\":\"e1\",\"description\":\"caf".to_vec();
    text.push(0xe9); // Latin-1 é
    text.extend_from_slice(b"\"},\n{\"id\":\"e2\"}\n]\n");
    let seen = read_bytes(&text);
    assert_eq!(ids(&seen), ["e0", "e2"]);
    assert_eq!(seen[0].as_ref().unwrap().1, pos(2, Some(1)));
    assert_eq!(seen[2].as_ref().unwrap().1, pos(4, Some(3)));
    let bad = seen[1].as_ref().unwrap_err();
    assert_eq!(bad.position, pos(3, Some(2)));
    assert_eq!(bad.id.as_deref(), Some("e1"));
    assert_eq!(
        bad.reason,
        "not UTF-8: byte 0xe9 at line 3 (offset 29 in the alert); JSON is UTF-8, save the input as UTF-8"
    );
    let raw = bad.raw.as_deref().unwrap();
    assert_eq!(raw, "{\"id\":\"e1\",\"description\":\"caf\u{fffd}\"}");
}

/// Regression: a page saved on one line (under `FIRST_LINE_MAX`) with one byte that is not
/// UTF-8 passed the first-line test (serde does not check the strings it skips), was read
/// whole as a line of NDJSON, and was reported as one malformed item without its text: every
/// alert of the page was lost.
#[test]
fn a_one_line_page_with_one_byte_not_utf8_loses_only_the_alert_holding_it() {
    let mut text = b"{\"@odata.context\":\"x\",\"value\":[{\"id\":\"a\"},{\"id\":\"b\",\"title\":\"\xff\"},{\"id\":\"c\"}]}\n".to_vec();
    let seen = read_bytes(&text);
    assert_eq!(ids(&seen), ["a", "c"]);
    assert_eq!(seen[2].as_ref().unwrap().1, pos(1, Some(3)));
    let bad = seen[1].as_ref().unwrap_err();
    assert_eq!(bad.position, pos(1, Some(2)));
    assert_eq!(bad.id.as_deref(), Some("b"));
    assert_eq!(
        bad.reason,
        "not UTF-8: byte 0xff at line 1 (offset 19 in the alert); JSON is UTF-8, save the input as UTF-8"
    );
    // The same page as the second line of NDJSON, between two alerts; and an array.
    text.splice(0..0, b"{\"id\":\"first\"}\n".iter().copied());
    text.extend_from_slice(b"[{\"id\":\"d\"},{\"id\":\"\xc3\"}]\n{\"id\":\"last\"}\n");
    let seen = read_bytes(&text);
    assert_eq!(ids(&seen), ["first", "a", "c", "d", "last"]);
    let bad: Vec<_> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(
        (bad[0].position, bad[0].id.as_deref()),
        (pos(2, Some(2)), Some("b"))
    );
    assert_eq!(bad[1].position, pos(3, Some(2)));
    assert!(
        bad[1].reason.starts_with("not UTF-8: byte 0xc3"),
        "{}",
        bad[1]
    );
    assert_eq!(seen.last().unwrap().as_ref().unwrap().1, pos(4, None));
}

/// One alert on a line that is not UTF-8 is refused with its id and text (it used to be
/// refused with neither); a syntax error on such a line ends that line, not the input.
#[test]
fn an_ndjson_alert_not_utf8_is_refused_with_its_id_and_text() {
    let text = b"{\"id\":\"a\",\"title\":\"\xe9t\xe9\"}\n{\"id\": oops \xff}\n{\"id\":\"b\"}\n";
    let seen = read_bytes(text);
    assert_eq!(ids(&seen), ["b"]);
    let first = seen[0].as_ref().unwrap_err();
    assert_eq!(first.position, pos(1, None));
    assert_eq!(first.id.as_deref(), Some("a"));
    assert_eq!(
        first.reason,
        "not UTF-8: byte 0xe9 at line 1 (offset 19 in the alert); JSON is UTF-8, save the input as UTF-8"
    );
    assert_eq!(
        first.raw.as_deref(),
        Some("{\"id\":\"a\",\"title\":\"\u{fffd}t\u{fffd}\"}")
    );
    let broken = seen[1].as_ref().unwrap_err();
    assert_eq!(broken.position.line, 2);
    assert!(
        broken.reason.contains("the rest of this line is skipped"),
        "{broken}"
    );
    assert_eq!(seen[2].as_ref().unwrap().1, pos(3, None));
}

/// A pretty-printed alert (a document of its own) with a byte that is not UTF-8 is refused
/// with the line the byte is on, and the document after it is read.
#[test]
fn a_multi_line_alert_not_utf8_is_refused_with_the_line_of_the_byte() {
    let text = b"{\n \"id\": \"solo\",\n \"title\": \"caf\xe9\"\n}\n{\n \"id\": \"next\"\n}\n";
    let seen = read_bytes(text);
    assert_eq!(ids(&seen), ["next"]);
    let bad = seen[0].as_ref().unwrap_err();
    assert_eq!(
        (bad.position, bad.id.as_deref()),
        (pos(1, None), Some("solo"))
    );
    assert_eq!(
        bad.reason,
        "not UTF-8: byte 0xe9 at line 3 (offset 31 in the alert); JSON is UTF-8, save the input as UTF-8"
    );
    assert_eq!(seen[1].as_ref().unwrap().1, pos(5, None));
}

/// Input that comes a few bytes at a time, with reads interrupted now and then, as from a pipe
/// or a slow disk.
struct Trickle<'a> {
    rest: &'a [u8],
    reads: usize,
}

impl io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.reads % 5 == 0 {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let n = (self.reads % 7 + 1).min(out.len()).min(self.rest.len());
        out[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// The scanner keeps the bytes it no longer needs as room for the next read rather than
/// zeroing it for each: input that trickles in (every element, character and line break split
/// across reads, reads interrupted) is read exactly as the same input read at once, a byte that
/// is not UTF-8 included.
#[test]
fn input_that_trickles_in_reads_as_input_read_at_once() {
    let mut text = b"[\n".to_vec();
    for i in 0..40 {
        let title = "\u{e9}".repeat(i * 37 % 300);
        text.extend_from_slice(
            format!(" {{\n  \"id\": \"e{i}\",\n  \"title\": \"{title}\"").as_bytes(),
        );
        if i == 17 {
            text.extend_from_slice(b",\n  \"description\": \"caf\xe9\"");
        }
        text.extend_from_slice(if i == 39 { b"\n }\n" } else { b"\n },\n" });
    }
    text.extend_from_slice(b"]\n");
    let at_once = read_bytes(&text);
    assert_eq!(at_once.len(), 40);
    assert_eq!(ids(&at_once).len(), 39);
    // Four lines an element from line 2, one more after the 18th.
    assert_eq!(
        at_once[39].as_ref().unwrap().1,
        pos(2 + 39 * 4 + 1, Some(40))
    );
    let trickle = Trickle {
        rest: &text,
        reads: 0,
    };
    let trickled = read_from(io::BufReader::with_capacity(1, trickle));
    assert_eq!(format!("{trickled:?}"), format!("{at_once:?}"));
}
