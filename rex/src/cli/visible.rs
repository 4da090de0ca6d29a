//! Text from the network made safe for a terminal. Room names arrive by
//! mDNS from any device on the LAN, and names and reasons from whatever
//! answers at a URL; a control character in them (ESC, BEL, C1) would let
//! that device retitle the window, clear the screen or forge lines.

use std::borrow::Cow;

/// `text` with every control character shown as `\u{..}`; borrowed when
/// there is none, which is nearly always.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(visible("Living Room"), "Living Room");
        assert_eq!(
            visible("\u{1b}]0;PWNED\u{7}\u{9b}2J\n"),
            "\\u{1b}]0;PWNED\\u{7}\\u{9b}2J\\u{a}"
        );
    }
}
