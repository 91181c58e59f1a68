//! A reader for the alert model that knows its schema: one pass over the JSON text, each member
//! written straight into its field, strings borrowed where they have no escapes.
//!
//! serde's derived reader is correct but general: it builds every field in a temporary first
//! (an `Option<Option<Str>>` for each of an evidence item's 35 members), moves the finished
//! item into its vector and moves it again when the vector grows, and goes through a visitor
//! for every value. On the benchmark corpus that made reading an alert cost twice what
//! serde_json's mere validation of its bytes costs.
//!
//! This is a fast path, not a second parser to trust. It reads what a well-formed alert is made
//! of and gives up (`None`) on anything else: a value of a shape the model does not take, a
//! duplicate member, an escape in a member name, a number that is not a plain whole number, a
//! `value` member (a page?), a string with a raw control character or a bad escape, text cut
//! short. The caller then reads the same text with serde, which decides and reports. So what
//! this accepts, serde accepts and reads the same (`tests.rs` holds both to that on every
//! example and on mutations of them). Members the model does not know are skipped, checked as
//! serde_json checks what it skips.

use std::borrow::Cow;

use serde::Deserialize;

use super::graph::{FileDetails, UserAccount};
use super::{Alert, Comment, Evidence, RelatedUser, Str, StrList, Timestamp};

/// The alert that `text` is, with nothing but whitespace around it.
pub(crate) fn alert_document(text: &str) -> Option<Alert<'_>> {
    let mut c = Cursor::new(text);
    let alert = c.alert()?;
    c.ws();
    (c.pos == text.len()).then_some(alert)
}

/// The alert at the start of `text` (after any whitespace), and the offset just past it.
pub(crate) fn alert_prefix(text: &str) -> Option<(Alert<'_>, usize)> {
    let mut c = Cursor::new(text);
    let alert = c.alert()?;
    Some((alert, c.pos))
}

/// A place in JSON text, read forward.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

/// Marks member `bit` of an object as read: `None` when it already was. serde refuses an object
/// that names a member twice (under its name or an alias), and so does this.
#[inline(always)]
fn first_time(seen: &mut u64, bit: u32) -> Option<()> {
    let mask = 1u64 << bit;
    if *seen & mask != 0 {
        return None;
    }
    *seen |= mask;
    Some(())
}

/// `field = value`, the first time member `bit` is seen.
#[inline(always)]
fn put<T>(seen: &mut u64, bit: u32, field: &mut T, value: T) -> Option<()> {
    first_time(seen, bit)?;
    *field = value;
    Some(())
}

/// The first byte at or after `from` that ends a string's plain run: `"`, `\\`, or a control
/// character (which JSON forbids raw in a string). The first bytes eight at a time (most of an
/// alert's strings are short: names, enums, ids, where a vector search's setup costs more than
/// it saves), the rest of a long one with a vector search.
#[inline]
fn string_stop(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const SHORT: usize = 32;
    // Sets the high bit of the lowest byte of `v` that is zero (bits above it may be set
    // spuriously by the borrow, never below: the lowest is exact).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let rest = bytes.get(from..)?;
    let head = &rest[..rest.len().min(SHORT)];
    let mut chunks = head.chunks_exact(8);
    for (i, chunk) in chunks.by_ref().enumerate() {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let chunk = u64::from_le_bytes(chunk);
        let below_space = chunk.wrapping_sub(ONES * 0x20) & !chunk & HIGH;
        let stops = zero(chunk ^ (ONES * u64::from(b'"')))
            | zero(chunk ^ (ONES * u64::from(b'\\')))
            | below_space;
        if stops != 0 {
            return Some(from + i * 8 + (stops.trailing_zeros() / 8) as usize);
        }
    }
    let stop = |b: &u8| *b == b'"' || *b == b'\\' || *b < 0x20;
    let tail = chunks.remainder();
    if let Some(found) = tail.iter().position(stop) {
        return Some(from + (head.len() - tail.len()) + found);
    }
    let long = from + head.len();
    let end = memchr::memchr2(b'"', b'\\', &bytes[long..]).map_or(bytes.len(), |p| long + p);
    let span = &bytes[long..end];
    // A fold, not `any`: a vector loop with no early exit, and a control character is rare.
    if span.iter().fold(false, |found, &b| found | (b < 0x20)) {
        return span.iter().position(stop).map(|p| long + p);
    }
    (end < bytes.len()).then_some(end)
}

/// Deeper than this inside a value the model does not know, the fast path gives up: skipping
/// recurses, and hostile input must not exhaust the stack. serde skips such a value without
/// recursing, and reads it.
const SKIP_DEPTH: u32 = 64;

fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &d| {
        Some(value * 16 + char::from(d).to_digit(16)?)
    })
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    /// Where the cursor is, in bytes from the start of the text.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Skips JSON whitespace.
    #[inline]
    pub(crate) fn ws(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.pos += 1)
    }

    /// `word` (`null`, `true`, `false`) at the cursor.
    fn word(&mut self, word: &str) -> Option<()> {
        self.text.as_bytes()[self.pos..]
            .starts_with(word.as_bytes())
            .then(|| self.pos += word.len())
    }

    /// An object's members: `each` is called with each member's name, the cursor on its value,
    /// and must read the value. Names with escapes are given up on.
    pub(crate) fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let name = self.name()?;
            self.eat(b':')?;
            each(self, name)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array's elements: `each` is called with the cursor on each and must read it.
    pub(crate) fn elements(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            each(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A value read by serde_json (a page's count, an alert this path gives up on).
    pub(crate) fn serde_value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let mut values = serde_json::Deserializer::from_str(&self.text[self.pos..]).into_iter();
        let value = values.next()?.ok()?;
        self.pos += values.byte_offset();
        Some(value)
    }

    /// An alert at the cursor, read by serde where this path gives up on it; `None` when it is
    /// not an alert (malformed, a page) or the text ends inside it.
    pub(crate) fn alert_or_serde(&mut self) -> Option<Alert<'a>> {
        let start = self.pos;
        if let Some(alert) = self.alert() {
            return Some(alert);
        }
        self.pos = start;
        self.serde_value::<Alert<'a>>()
            .filter(|alert| !alert.is_page())
    }

    /// A member name at the cursor (on its `"`); one with escapes is given up on.
    #[inline]
    fn name(&mut self) -> Option<&'a str> {
        let start = self.pos + 1;
        let end = string_stop(self.text.as_bytes(), start)?;
        if self.text.as_bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        self.text.get(start..end)
    }

    /// A string at the cursor (on its `"`): its text, borrowed when it has no escapes.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let end = string_stop(bytes, start)?;
        match bytes[end] {
            b'"' => {
                self.pos = end + 1;
                Some(Cow::Borrowed(&self.text[start..end]))
            }
            b'\\' => self.escaped(start, end).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string from its first escape at `at`, decoded (rare: kept out of line so
    /// that [`Self::string`] stays small). A bad escape, or a
    /// surrogate that is not half of a pair, is given up on (serde refuses both).
    #[cold]
    #[inline(never)]
    fn escaped(&mut self, start: usize, mut at: usize) -> Option<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::with_capacity(at - start + 16);
        out.push_str(&self.text[start..at]);
        loop {
            let escape = *bytes.get(at + 1)?;
            at += 2;
            let decoded = match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let high = hex4(bytes.get(at..at + 4)?)?;
                    at += 4;
                    if (0xD800..0xDC00).contains(&high) {
                        if bytes.get(at..at + 2)? != b"\\u" {
                            return None;
                        }
                        let low = hex4(bytes.get(at + 2..at + 6)?)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return None;
                        }
                        at += 6;
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                    } else {
                        char::from_u32(high)?
                    }
                }
                _ => return None,
            };
            out.push(decoded);
            let next = string_stop(bytes, at)?;
            out.push_str(&self.text[at..next]);
            at = next;
            match bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Some(out);
                }
                b'\\' => {}
                _ => return None,
            }
        }
    }

    /// Skips a string, checking it as serde_json does when it skips one: raw control
    /// characters and unknown escapes are errors, `\u` needs four hex digits.
    fn skip_string(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos + 1;
        loop {
            at = string_stop(bytes, at)?;
            match bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Some(());
                }
                b'\\' => match *bytes.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                    b'u' => {
                        hex4(bytes.get(at + 2..at + 6)?)?;
                        at += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// Skips a number, checking JSON's grammar for one.
    fn skip_number(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let digits = |at: usize| {
            bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut at = self.pos;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => at += digits(at),
            _ => return None,
        }
        if bytes.get(at) == Some(&b'.') {
            let n = digits(at + 1);
            if n == 0 {
                return None;
            }
            at += 1 + n;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let n = digits(at);
            if n == 0 {
                return None;
            }
            at += n;
        }
        self.pos = at;
        Some(())
    }

    /// Skips a value the model does not know, checking that it is well-formed JSON.
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Option<()> {
        if depth > SKIP_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'[' => self.elements(|c| c.skip_nested(depth + 1)),
            b'{' => {
                self.pos += 1;
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    self.skip_string()?;
                    self.eat(b':')?;
                    self.skip_nested(depth + 1)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b'}' => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'n' => self.word("null"),
            b't' => self.word("true"),
            b'f' => self.word("false"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// A value of one of the model's string fields: a string, or a whole number or a boolean
    /// as its JSON text (`incidentId: 4711` reads as `"4711"`); null is none.
    fn str_value(&mut self) -> Option<Option<Str<'a>>> {
        match self.peek()? {
            b'"' => self.string().map(|s| Some(Str(s))),
            b'n' => self.word("null").map(|()| None),
            b't' => self.word("true").map(|()| Some(Str::from("true"))),
            b'f' => self.word("false").map(|()| Some(Str::from("false"))),
            b'0'..=b'9' => self.whole_number().map(|n| Some(Str::from(n))),
            _ => None,
        }
    }

    /// A whole number that fits a `u64` written as serde_json writes it back (no sign, no
    /// leading zero, no fraction or exponent); anything else is left to serde.
    fn whole_number(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 19 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = bytes.get(start + digits) {
            return None;
        }
        self.pos = start + digits;
        Some(&self.text[start..self.pos])
    }

    fn timestamp(&mut self) -> Option<Option<Timestamp>> {
        match self.peek()? {
            b'"' => Timestamp::parse(&self.string()?).ok().map(Some),
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    /// `mitreTechniques`: an array (null elements skipped) or one string.
    fn str_list(&mut self) -> Option<Option<StrList<'a>>> {
        match self.peek()? {
            b'[' => {
                let mut items = Vec::with_capacity(4);
                self.elements(|c| {
                    items.extend(c.str_value()?);
                    Some(())
                })?;
                Some(Some(StrList(items)))
            }
            b'"' => self.string().map(|s| Some(StrList(vec![Str(s)]))),
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    fn related_user(&mut self) -> Option<Option<RelatedUser<'a>>> {
        match self.peek()? {
            b'{' => {
                let mut user = RelatedUser::default();
                let mut seen = 0;
                self.members(|c, name| match name {
                    "userName" => put(&mut seen, 0, &mut user.user_name, c.str_value()?),
                    "domainName" => put(&mut seen, 1, &mut user.domain_name, c.str_value()?),
                    _ => c.skip(),
                })?;
                Some(Some(user))
            }
            b'"' => self.string().map(|s| Some(RelatedUser::from_text(s))),
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    fn comments(&mut self) -> Option<Option<Vec<Comment<'a>>>> {
        match self.peek()? {
            b'[' => {
                let mut comments = Vec::new();
                self.elements(|c| {
                    let mut comment = Comment::default();
                    let mut seen = 0;
                    c.members(|c, name| match name {
                        "comment" => put(&mut seen, 0, &mut comment.comment, c.str_value()?),
                        "createdBy" | "createdByDisplayName" => {
                            put(&mut seen, 1, &mut comment.created_by, c.str_value()?)
                        }
                        "createdTime" | "createdDateTime" => {
                            put(&mut seen, 2, &mut comment.created_time, c.timestamp()?)
                        }
                        _ => c.skip(),
                    })?;
                    comments.push(comment);
                    Some(())
                })?;
                Some(Some(comments))
            }
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    fn evidence_list(&mut self) -> Option<Option<Vec<Evidence<'a>>>> {
        match self.peek()? {
            b'[' => {
                // Room for the items a busy alert has: growing moves every item already read.
                let mut items: Vec<Evidence<'a>> = Vec::with_capacity(8);
                self.elements(|c| {
                    // Built where it will stay: an item is ~750 bytes, and moving it into the
                    // vector was a measurable part of reading an alert.
                    items.push(Evidence::default());
                    let item = items.last_mut()?;
                    c.evidence(item)
                })?;
                Some(Some(items))
            }
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    fn evidence(&mut self, e: &mut Evidence<'a>) -> Option<()> {
        let mut seen = 0;
        let s = &mut seen;
        self.members(|c, name| match name {
            "entityType" => put(s, 0, &mut e.entity_type, c.str_value()?),
            "evidenceCreationTime" | "createdDateTime" => {
                put(s, 1, &mut e.evidence_creation_time, c.timestamp()?)
            }
            "sha1" => put(s, 2, &mut e.sha1, c.str_value()?),
            "sha256" => put(s, 3, &mut e.sha256, c.str_value()?),
            "fileName" => put(s, 4, &mut e.file_name, c.str_value()?),
            "filePath" => put(s, 5, &mut e.file_path, c.str_value()?),
            "processId" => put(s, 6, &mut e.process_id, c.str_value()?),
            "processCommandLine" => put(s, 7, &mut e.process_command_line, c.str_value()?),
            "processCreationTime" | "processCreationDateTime" => {
                put(s, 8, &mut e.process_creation_time, c.timestamp()?)
            }
            "parentProcessId" => put(s, 9, &mut e.parent_process_id, c.str_value()?),
            "parentProcessCreationTime" | "parentProcessCreationDateTime" => {
                put(s, 10, &mut e.parent_process_creation_time, c.timestamp()?)
            }
            "parentProcessFileName" => put(s, 11, &mut e.parent_process_file_name, c.str_value()?),
            "parentProcessFilePath" => put(s, 12, &mut e.parent_process_file_path, c.str_value()?),
            "ipAddress" => put(s, 13, &mut e.ip_address, c.str_value()?),
            "url" => put(s, 14, &mut e.url, c.str_value()?),
            "registryKey" => put(s, 15, &mut e.registry_key, c.str_value()?),
            "registryHive" => put(s, 16, &mut e.registry_hive, c.str_value()?),
            "registryValueType" => put(s, 17, &mut e.registry_value_type, c.str_value()?),
            "registryValue" => put(s, 18, &mut e.registry_value, c.str_value()?),
            "accountName" => put(s, 19, &mut e.account_name, c.str_value()?),
            "domainName" => put(s, 20, &mut e.domain_name, c.str_value()?),
            "userSid" => put(s, 21, &mut e.user_sid, c.str_value()?),
            "aadUserId" | "azureAdUserId" => put(s, 22, &mut e.aad_user_id, c.str_value()?),
            "userPrincipalName" => put(s, 23, &mut e.user_principal_name, c.str_value()?),
            "detectionStatus" => put(s, 24, &mut e.detection_status, c.str_value()?),
            "mdeDeviceId" => put(s, 25, &mut e.mde_device_id, c.str_value()?),
            "deviceDnsName" => put(s, 26, &mut e.device_dns_name, c.str_value()?),
            "rbacGroupName" => put(s, 27, &mut e.rbac_group_name, c.str_value()?),
            "verdict" => put(s, 28, &mut e.verdict, c.str_value()?),
            "remediationStatus" => put(s, 29, &mut e.remediation_status, c.str_value()?),
            "@odata.type" => put(s, 30, &mut e.odata_type, c.str_value()?),
            "fileDetails" => put(s, 31, &mut e.file_details, c.file_details()?),
            "imageFile" => put(s, 32, &mut e.image_file, c.file_details()?),
            "parentProcessImageFile" => {
                put(s, 33, &mut e.parent_process_image_file, c.file_details()?)
            }
            "userAccount" => put(s, 34, &mut e.user_account, c.user_account()?),
            _ => c.skip(),
        })
    }

    /// Graph's `fileDetails`, `imageFile`, `parentProcessImageFile`. serde would also take an
    /// array here (a derived struct reads one by position); that rarity is left to it.
    fn file_details(&mut self) -> Option<Option<Box<FileDetails<'a>>>> {
        match self.peek()? {
            b'{' => {
                let mut f = Box::<FileDetails>::default();
                let mut seen = 0;
                let s = &mut seen;
                self.members(|c, name| match name {
                    "fileName" => put(s, 0, &mut f.file_name, c.str_value()?),
                    "filePath" => put(s, 1, &mut f.file_path, c.str_value()?),
                    "sha1" => put(s, 2, &mut f.sha1, c.str_value()?),
                    "sha256" => put(s, 3, &mut f.sha256, c.str_value()?),
                    _ => c.skip(),
                })?;
                Some(Some(f))
            }
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    /// Graph's `userAccount`.
    fn user_account(&mut self) -> Option<Option<Box<UserAccount<'a>>>> {
        match self.peek()? {
            b'{' => {
                let mut u = Box::<UserAccount>::default();
                let mut seen = 0;
                let s = &mut seen;
                self.members(|c, name| match name {
                    "accountName" => put(s, 0, &mut u.account_name, c.str_value()?),
                    "domainName" => put(s, 1, &mut u.domain_name, c.str_value()?),
                    "userSid" => put(s, 2, &mut u.user_sid, c.str_value()?),
                    "azureAdUserId" => put(s, 3, &mut u.azure_ad_user_id, c.str_value()?),
                    "userPrincipalName" => put(s, 4, &mut u.user_principal_name, c.str_value()?),
                    _ => c.skip(),
                })?;
                Some(Some(u))
            }
            b'n' => self.word("null").map(|()| None),
            _ => None,
        }
    }

    /// An alert object at the cursor, normalised as serde's reading of it is.
    pub(crate) fn alert(&mut self) -> Option<Alert<'a>> {
        let mut a = Alert::default();
        let mut seen = 0;
        let s = &mut seen;
        self.members(|c, name| match name {
            "id" => put(s, 0, &mut a.id, c.str_value()?),
            "incidentId" => put(s, 1, &mut a.incident_id, c.str_value()?),
            "investigationId" => put(s, 2, &mut a.investigation_id, c.str_value()?),
            "assignedTo" => put(s, 3, &mut a.assigned_to, c.str_value()?),
            "severity" => put(s, 4, &mut a.severity, c.str_value()?),
            "status" => put(s, 5, &mut a.status, c.str_value()?),
            "classification" => put(s, 6, &mut a.classification, c.str_value()?),
            "determination" => put(s, 7, &mut a.determination, c.str_value()?),
            "investigationState" => put(s, 8, &mut a.investigation_state, c.str_value()?),
            "detectionSource" => put(s, 9, &mut a.detection_source, c.str_value()?),
            "detectorId" => put(s, 10, &mut a.detector_id, c.str_value()?),
            "category" => put(s, 11, &mut a.category, c.str_value()?),
            "threatFamilyName" => put(s, 12, &mut a.threat_family_name, c.str_value()?),
            "threatName" | "threatDisplayName" => put(s, 13, &mut a.threat_name, c.str_value()?),
            "title" => put(s, 14, &mut a.title, c.str_value()?),
            "description" => put(s, 15, &mut a.description, c.str_value()?),
            "alertCreationTime" | "createdDateTime" => {
                put(s, 16, &mut a.alert_creation_time, c.timestamp()?)
            }
            "firstEventTime" | "firstActivityDateTime" => {
                put(s, 17, &mut a.first_event_time, c.timestamp()?)
            }
            "lastEventTime" | "lastActivityDateTime" => {
                put(s, 18, &mut a.last_event_time, c.timestamp()?)
            }
            "lastUpdateTime" | "lastUpdateDateTime" => {
                put(s, 19, &mut a.last_update_time, c.timestamp()?)
            }
            "resolvedTime" | "resolvedDateTime" => put(s, 20, &mut a.resolved_time, c.timestamp()?),
            "machineId" => put(s, 21, &mut a.machine_id, c.str_value()?),
            "computerDnsName" => put(s, 22, &mut a.computer_dns_name, c.str_value()?),
            "rbacGroupName" => put(s, 23, &mut a.rbac_group_name, c.str_value()?),
            "aadTenantId" | "tenantId" => put(s, 24, &mut a.aad_tenant_id, c.str_value()?),
            "mitreTechniques" => put(s, 25, &mut a.mitre_techniques, c.str_list()?),
            "relatedUser" => put(s, 26, &mut a.related_user, c.related_user()?),
            "comments" => put(s, 27, &mut a.comments, c.comments()?),
            "evidence" => put(s, 28, &mut a.evidence, c.evidence_list()?),
            "serviceSource" => put(s, 29, &mut a.service_source, c.str_value()?),
            "providerAlertId" => put(s, 30, &mut a.provider_alert_id, c.str_value()?),
            "alertWebUrl" => put(s, 31, &mut a.alert_web_url, c.str_value()?),
            "incidentWebUrl" => put(s, 32, &mut a.incident_web_url, c.str_value()?),
            "@odata.type" => put(s, 33, &mut a.odata_type, c.str_value()?),
            // An object with `value` may be a page: serde tells.
            "value" => None,
            _ => c.skip(),
        })?;
        a.normalize_graph_in_place();
        Some(a)
    }
}

#[cfg(test)]
mod tests;
