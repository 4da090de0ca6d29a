//! Who may create a session: the room's PIN, if it has one, and what a
//! session name may contain. Pure functions over the request's parts, so
//! each rule is tested on its own; `routes` turns their reasons into
//! `403 forbidden` and `422 invalid_data`.

use rex_proto::{CreateSession, ErrorCode};

/// The longest display name a session may have, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 64;

/// Why a session was not created: the code to answer with and a reason a
/// person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) reason: String,
}

/// Checks the PIN a client supplied, in the body (`pin`) or the query
/// (`?pin=`; the body wins if both are given), against the room's.
pub(crate) fn check_pin(
    room: Option<&str>,
    body: &CreateSession,
    query: Option<&str>,
) -> Result<(), Refusal> {
    let Some(room) = room else {
        return Ok(());
    };
    let supplied = body.pin.clone().or_else(|| query_pin(query));
    let forbidden = |reason: &str| Refusal {
        code: ErrorCode::Forbidden,
        reason: reason.to_owned(),
    };
    match supplied {
        None => Err(forbidden(
            "this room needs a PIN to join: ask the host for the PIN shown on the TV and send it \
             (`pin` in the body of POST /rex/v0/sessions, or `?pin=` in its URL)",
        )),
        Some(pin) if same(pin.trim(), room) => Ok(()),
        Some(_) => Err(forbidden(
            "wrong PIN: check the PIN shown on the TV (ask the host) and try again",
        )),
    }
}

fn query_pin(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(key, _)| key == "pin")
        .map(|(_, pin)| pin.into_owned())
}

/// Compares without stopping at the first difference, so the time an
/// answer takes does not tell a guesser how many leading digits were right.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a session name: at most [`MAX_NAME_CHARS`] characters, none of
/// them a control character (C0 such as ESC and BEL, DEL, C1). Names are
/// printed on TVs, phones and terminals; a control character there can
/// rewrite a terminal's title, clear it or worse.
pub(crate) fn check_name(name: &str) -> Result<(), Refusal> {
    let invalid = |reason: String| Refusal {
        code: ErrorCode::InvalidData,
        reason,
    };
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "field `name`: {chars} characters is too long; the limit is {MAX_NAME_CHARS}"
        )));
    }
    if let Some((at, c)) = name.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(invalid(format!(
            "field `name`: character {} is a control character (U+{:04X}); use visible \
             characters only",
            at + 1,
            u32::from(c)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pin: Option<&str>) -> CreateSession {
        CreateSession {
            name: None,
            pin: pin.map(str::to_owned),
        }
    }

    #[test]
    fn a_room_without_a_pin_admits_everyone() {
        assert_eq!(check_pin(None, &body(Some("1")), None), Ok(()));
        assert_eq!(check_pin(None, &body(None), None), Ok(()));
    }

    #[test]
    fn a_room_with_a_pin_needs_the_right_one_from_body_or_query() {
        let room = Some("4711");
        assert_eq!(check_pin(room, &body(Some("4711")), None), Ok(()));
        assert_eq!(check_pin(room, &body(Some(" 4711 ")), None), Ok(()));
        assert_eq!(check_pin(room, &body(None), Some("x=1&pin=4711")), Ok(()));
        let missing = check_pin(room, &body(None), None).unwrap_err();
        assert_eq!(missing.code, ErrorCode::Forbidden);
        assert!(missing.reason.contains("needs a PIN"), "{}", missing.reason);
        let wrong = check_pin(room, &body(Some("4712")), Some("pin=4711")).unwrap_err();
        assert!(wrong.reason.starts_with("wrong PIN"), "{}", wrong.reason);
        assert!(check_pin(room, &body(Some("47111")), None).is_err());
        assert!(check_pin(room, &body(Some("")), None).is_err());
    }

    #[test]
    fn names_with_control_characters_are_refused() {
        assert_eq!(check_name("Zoë 🎉"), Ok(()));
        for bad in [
            "\u{1b}]0;PWNED\u{7}",
            "a\u{7f}",
            "a\u{9b}2J",
            "tab\there",
            "new\nline",
        ] {
            let refusal = check_name(bad).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::InvalidData, "{bad:?}");
            assert!(refusal.reason.contains("control character"), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
