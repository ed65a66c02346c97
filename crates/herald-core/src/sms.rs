//! SMS rules that need no I/O: how many segments a body takes, the longest body Herald sends,
//! and what a recipient's reply asks for (STOP, START, HELP).
//!
//! **Segments.** A body made only of GSM 03.38 characters is sent as GSM-7: 160 septets in one
//! segment, 153 per segment once it is split (the rest carries the concatenation header);
//! characters of the extension table (`^ { } \ [ ~ ] | €` and form feed) take two septets and
//! are never split across segments. Any other character makes the whole body UCS-2: 70 code
//! units in one segment, 67 per segment when split, where a character outside the Basic
//! Multilingual Plane (most emoji) takes two units and is never split.
//!
//! **Limit.** The SMS service takes bodies of up to [`MAX_BODY_CHARS`] characters (Twilio's
//! limit too); a longer one is refused, never cut short.
//!
//! **Keywords.** The STOP family (`STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`,
//! `REVOKE`, `OPT OUT`, `OPT-OUT`, `OPTOUT`), `START` / `UNSTOP` / `YES` and `HELP` / `INFO` are
//! recognised when they are the whole reply, in any case, with any spacing around them (and
//! between `OPT` and `OUT`) and trailing punctuation; a sentence that merely contains one
//! ("please stop by tomorrow") is no keyword.

/// The longest SMS body, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

/// How a body is encoded on the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The GSM 03.38 7-bit alphabet.
    Gsm7,
    /// UTF-16 (UCS-2 as phones call it).
    Ucs2,
}

/// The size of a body on the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    /// The encoding the body needs.
    pub encoding: Encoding,
    /// How many segments it is sent as (0 for an empty body).
    pub count: usize,
}

/// The GSM 03.38 basic character set.
const GSM_BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM 03.38 extension table: two septets each (escape + character).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

/// Septets `c` takes in GSM-7, or `None` when it has no GSM-7 form.
fn septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The segments `body` takes.
pub fn segments(body: &str) -> Segments {
    let gsm: Option<Vec<usize>> = body.chars().map(septets).collect();
    match gsm {
        Some(units) => Segments { encoding: Encoding::Gsm7, count: count(&units, 160, 153) },
        None => {
            let units: Vec<usize> = body.chars().map(char::len_utf16).collect();
            Segments { encoding: Encoding::Ucs2, count: count(&units, 70, 67) }
        }
    }
}

/// Segments needed for characters of `units` each, `single` fitting one segment alone and
/// `part` each segment of a split body; a character never straddles two segments.
fn count(units: &[usize], single: usize, part: usize) -> usize {
    let total: usize = units.iter().sum();
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let (mut segments, mut used) = (1, 0);
    for &unit in units {
        if used + unit > part {
            segments += 1;
            used = 0;
        }
        used += unit;
    }
    segments
}

/// The segments of `body`, or why it cannot be sent: empty, or longer than
/// [`MAX_BODY_CHARS`].
pub fn check_body(body: &str) -> Result<Segments, String> {
    let length = body.chars().count();
    if length == 0 {
        return Err("the SMS body is empty".into());
    }
    if length > MAX_BODY_CHARS {
        return Err(format!("the SMS body has {length} characters, more than the {MAX_BODY_CHARS} allowed"));
    }
    Ok(segments(body))
}

/// What an inbound reply asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// No more SMS.
    Stop,
    /// SMS again.
    Start,
    /// Who is writing, and how to reach them.
    Help,
}

/// The keyword `reply` is, if it is one.
pub fn keyword(reply: &str) -> Option<Keyword> {
    let word: String = reply
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .flat_map(char::to_uppercase)
        .collect();
    let spaced_ok = reply.split_whitespace().count() == 1 || word == "OPTOUT";
    if !spaced_ok {
        return None;
    }
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPTOUT" => Some(Keyword::Stop),
        "START" | "UNSTOP" | "YES" => Some(Keyword::Start),
        "HELP" | "INFO" => Some(Keyword::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_bodies_take_160_alone_and_153_per_part() {
        assert_eq!(segments(""), Segments { encoding: Encoding::Gsm7, count: 0 });
        assert_eq!(segments(&"a".repeat(160)), Segments { encoding: Encoding::Gsm7, count: 1 });
        assert_eq!(segments(&"a".repeat(161)).count, 2);
        assert_eq!(segments(&"a".repeat(306)).count, 2);
        assert_eq!(segments(&"a".repeat(307)).count, 3);
        assert_eq!(segments("Your appointment is at 10:00 @ St Claire, £5 fee").encoding, Encoding::Gsm7);
    }

    #[test]
    fn extension_characters_count_twice_and_are_not_split() {
        assert_eq!(segments(&"€".repeat(80)).count, 1, "80 × 2 septets = 160");
        assert_eq!(segments(&"€".repeat(81)).count, 2);
        // 152 septets then an escape pair: the pair moves whole to the next segment.
        let body = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(segments(&body), Segments { encoding: Encoding::Gsm7, count: 2 });
        let body = format!("{}{}€", "a".repeat(152), "a".repeat(153));
        assert_eq!(segments(&body).count, 3, "152 + 153 + 2 septets");
    }

    #[test]
    fn other_characters_make_the_body_ucs2() {
        assert_eq!(segments(&"ж".repeat(70)), Segments { encoding: Encoding::Ucs2, count: 1 });
        assert_eq!(segments(&"ж".repeat(71)).count, 2);
        assert_eq!(segments(&"ж".repeat(134)).count, 2);
        assert_eq!(segments(&"ж".repeat(135)).count, 3);
        assert_eq!(segments(&format!("{}😀", "a".repeat(68))).count, 1, "an emoji takes two units: 70");
        assert_eq!(segments(&format!("{}😀", "a".repeat(69))).count, 2);
        assert_eq!(segments(&format!("{}😀", "a".repeat(66))).count, 1);
        let straddling = format!("{}😀{}", "a".repeat(66), "b".repeat(66));
        assert_eq!(segments(&straddling).count, 3, "134 units, but the emoji is not split across segments: 66 + 67 + 1");
    }

    #[test]
    fn segments_never_overflow_their_size() {
        for length in 0..700 {
            let gsm = segments(&"x".repeat(length)).count;
            let ucs = segments(&"ж".repeat(length)).count;
            assert_eq!(
                gsm,
                if length == 0 {
                    0
                } else if length <= 160 {
                    1
                } else {
                    length.div_ceil(153)
                },
                "{length}"
            );
            assert_eq!(
                ucs,
                if length == 0 {
                    0
                } else if length <= 70 {
                    1
                } else {
                    length.div_ceil(67)
                },
                "{length}"
            );
        }
    }

    #[test]
    fn bodies_over_1600_characters_are_refused() {
        assert_eq!(check_body(&"ж".repeat(1600)).unwrap().count, 24);
        let refused = check_body(&"a".repeat(1601)).unwrap_err();
        assert!(refused.contains("1601") && refused.contains("1600"), "{refused}");
        assert!(check_body("").is_err());
    }

    #[test]
    fn keywords_are_recognised_in_any_case_and_spacing() {
        for stop in [
            "STOP",
            "stop",
            " Stop ",
            "STOP.",
            "stopall",
            "Unsubscribe",
            "cancel",
            "END",
            "quit",
            "revoke",
            "opt out",
            "OPT-OUT",
            "optout",
            "Opt  Out!",
        ] {
            assert_eq!(keyword(stop), Some(Keyword::Stop), "{stop}");
        }
        for start in ["START", "unstop", "Yes"] {
            assert_eq!(keyword(start), Some(Keyword::Start), "{start}");
        }
        for help in ["HELP", "info?"] {
            assert_eq!(keyword(help), Some(Keyword::Help), "{help}");
        }
        for other in ["please stop by tomorrow", "stopped", "", "see you", "yes please"] {
            assert_eq!(keyword(other), None, "{other}");
        }
    }
}
