//! Conditional GET of the ticket list (`docs/protocol.md` 6.1): the entity tag of a
//! response body and the `If-None-Match` evaluation of RFC 9110 section 13.1.2.
//!
//! The tag is a hash of the exact body bytes the server would send, so it changes
//! exactly when those bytes change (per user, since each user's list is their own
//! body), and two answers with the same tag are byte-identical.

use axum::http::HeaderMap;
use axum::http::header::IF_NONE_MATCH;

/// Bytes of SHA-256 kept in the tag: 128 bits, so an accidental collision between two
/// bodies of one user needs about 2^64 of them; 32 hex characters on the wire.
const TAG_BYTES: usize = 16;

/// The strong entity tag of `body`: `"` + hex of the first 128 bits of its SHA-256 + `"`.
pub(crate) fn of(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let mut tag = String::with_capacity(TAG_BYTES * 2 + 2);
    tag.push('"');
    for byte in &digest.as_ref()[..TAG_BYTES] {
        tag.push(char::from(HEX[usize::from(byte >> 4)]));
        tag.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    tag.push('"');
    tag
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// True when the request's `If-None-Match` matches `current` (a tag made by [`of`]), so
/// the answer is `304 Not Modified`. RFC 9110 13.1.2: `*` matches any current
/// representation (the ticket list always has one); otherwise any listed tag matches
/// by *weak* comparison (`W/"x"` matches `"x"`). Several header lines form one list. A
/// field that is not valid syntax anywhere makes the condition false (the full answer
/// is sent: the safe side of a garbled header).
pub(crate) fn if_none_match(headers: &HeaderMap, current: &str) -> bool {
    let mut values = headers.get_all(IF_NONE_MATCH).iter().peekable();
    if values.peek().is_none() {
        return false;
    }
    let current = opaque(current);
    let mut matched = false;
    for value in values {
        let bytes = value.as_bytes();
        if trim(bytes) == b"*" {
            matched = true;
            continue;
        }
        match parse_list(bytes) {
            Some(tags) => matched |= tags.contains(&current),
            None => return false,
        }
    }
    matched
}

/// The opaque part of a tag (`"x"` of `W/"x"` or `"x"`).
fn opaque(tag: &str) -> &[u8] {
    tag.strip_prefix("W/").unwrap_or(tag).as_bytes()
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `#entity-tag`: tags separated by commas and optional whitespace (empty elements are
/// allowed, RFC 9110 5.6.1); each tag's opaque part, quotes included. `None` when any
/// element is not an entity tag. A comma inside quotes belongs to the tag.
fn parse_list(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut tags = Vec::new();
    let mut i = 0;
    let mut need_separator = false;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b',' => {
                need_separator = false;
                i += 1;
            }
            _ if need_separator => return None,
            _ => {
                let start = if bytes[i..].starts_with(b"W/") {
                    i + 2
                } else {
                    i
                };
                if bytes.get(start) != Some(&b'"') {
                    return None;
                }
                let close = bytes[start + 1..].iter().position(|&b| b == b'"')? + start + 1;
                // etagc = %x21 / %x23-7E / obs-text: no controls, spaces or DEL.
                if bytes[start + 1..close]
                    .iter()
                    .any(|&b| b <= b' ' || b == 0x7f)
                {
                    return None;
                }
                tags.push(&bytes[start..=close]);
                i = close + 1;
                need_separator = true;
            }
        }
    }
    Some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(IF_NONE_MATCH, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn tags_hash_the_body() {
        let a = of(b"{\"chatMessages\":[]}");
        assert_eq!(a.len(), 34);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert!(a[1..33].bytes().all(|b| HEX.contains(&b)));
        assert_eq!(a, of(b"{\"chatMessages\":[]}"));
        assert_ne!(a, of(b"{\"chatMessages\":[] }"));
        // SHA-256("") starts e3b0c442 98fc1c14 9afbf4c8 996fb924.
        assert_eq!(of(b""), "\"e3b0c44298fc1c149afbf4c8996fb924\"");
    }

    #[test]
    fn if_none_match_follows_rfc_9110() {
        let tag = "\"abc\"";
        let yes: &[&[&[u8]]] = &[
            &[b"\"abc\""],
            &[b"W/\"abc\""],
            &[b"*"],
            &[b" * "],
            &[b"\"x\", \"abc\""],
            &[b"\"x\",W/\"abc\" ,"],
            &[b", ,\"abc\""],
            &[b"\"x\"", b"\"abc\""],
        ];
        for values in yes {
            assert!(if_none_match(&headers(values), tag), "{values:?}");
        }
        let no: &[&[&[u8]]] = &[
            &[],
            &[b"\"abd\""],
            &[b"abc"],
            &[b"\"abc"],
            &[b"w/\"abc\""],
            &[b"\"ab c\""],
            &[b"\"x\" \"abc\""],
            &[b"\"abc\", *"],
            &[b"garbage, \"abc\""],
            &[b"\"abc\"", b"garbage"],
            &[b""],
            &[b"\"a,bc\""],
        ];
        for values in no {
            assert!(!if_none_match(&headers(values), tag), "{values:?}");
        }
        // A comma inside quotes is part of the tag.
        assert!(if_none_match(&headers(&[b"\"a,bc\""]), "\"a,bc\""));
    }
}
