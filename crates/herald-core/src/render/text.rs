//! The plain-text part of an HTML email, derived from the HTML: mail clients that show text
//! only, and spam filters, want one.
//!
//! A small converter rather than a crate: the HTML comes from our own templates (or MRML), so
//! tags, comments and entities are all it has to understand, and an HTML5 parser tree would
//! outweigh the rest of rendering. It drops `head`, `style`, `script` and comments, ends lines
//! at block elements (`li` items start with `- `), keeps each link's target after its text
//! (`text (https://…)`), decodes entities and collapses whitespace.

/// Elements whose content is never text.
const HIDDEN: &[&str] = &["head", "style", "script", "title", "template"];

/// Elements that end a line where they open and close.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// Elements around which a blank line is left.
const PARAGRAPHS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "hr"];

/// The text of `html`.
pub(super) fn html_to_text(html: &str) -> String {
    let mut out = Text::default();
    let mut hidden: Option<String> = None;
    let mut links: Vec<Option<String>> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        if hidden.is_none() {
            out.push_text(&decode_entities(&rest[..start]));
        }
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(end) = tag_end(rest) else {
            rest = "";
            break;
        };
        let tag = Tag::parse(&rest[1..end]);
        rest = &rest[end + 1..];
        let Some(tag) = tag else { continue };
        if let Some(name) = &hidden {
            if tag.closing && tag.name == *name {
                hidden = None;
            }
            continue;
        }
        if HIDDEN.contains(&tag.name.as_str()) {
            if !tag.closing && !tag.self_closing {
                hidden = Some(tag.name);
            }
            continue;
        }
        match (tag.name.as_str(), tag.closing) {
            ("br", _) => out.line_break(),
            ("a", false) => links.push(tag.href),
            ("a", true) => {
                if let Some(Some(href)) = links.pop() {
                    out.link_target(&href);
                }
            }
            ("li", false) => {
                out.end_line(1);
                out.push_text("- ");
            }
            (name, _) if PARAGRAPHS.contains(&name) => out.end_line(2),
            (name, _) if BLOCKS.contains(&name) => out.end_line(1),
            _ => {}
        }
    }
    if hidden.is_none() {
        out.push_text(&decode_entities(rest));
    }
    out.finish()
}

/// Where the tag that `text` starts with ends (its `>`), skipping quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// An opening or closing tag: its lowercase name and, for links, the target.
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    href: Option<String>,
}

impl Tag {
    /// The tag inside `<…>`; `None` for declarations (`<!DOCTYPE …>`) and processing
    /// instructions.
    fn parse(inner: &str) -> Option<Tag> {
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let name_end = inner.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return None;
        }
        let attributes = &inner[name_end..];
        let href = (name == "a").then(|| attribute(attributes, "href")).flatten().map(|href| decode_entities(&href));
        Some(Tag { name, closing, self_closing: attributes.trim_end().ends_with('/'), href })
    }
}

/// The value of attribute `wanted` in `attributes` (`href="…"`, `href='…'` or `href=…`).
fn attribute(attributes: &str, wanted: &str) -> Option<String> {
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let value = match rest.strip_prefix('=') {
            None => None,
            Some(after) => {
                let after = after.trim_start();
                let (value, remainder) = match after.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let body = &after[1..];
                        let end = body.find(q).unwrap_or(body.len());
                        (&body[..end], body.get(end + 1..).unwrap_or(""))
                    }
                    _ => {
                        let end = after.find(char::is_whitespace).unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                rest = remainder;
                Some(value)
            }
        };
        if name.eq_ignore_ascii_case(wanted) {
            return value.map(str::to_string);
        }
    }
}

/// Named entities beyond the five of XML: those of Western European text and typography.
const ENTITIES: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("nbsp", "\u{a0}"),
    ("copy", "©"),
    ("reg", "®"),
    ("trade", "™"),
    ("euro", "€"),
    ("pound", "£"),
    ("deg", "°"),
    ("middot", "·"),
    ("bull", "•"),
    ("hellip", "…"),
    ("ndash", "–"),
    ("mdash", "—"),
    ("lsquo", "‘"),
    ("rsquo", "’"),
    ("ldquo", "“"),
    ("rdquo", "”"),
    ("laquo", "«"),
    ("raquo", "»"),
    ("iexcl", "¡"),
    ("iquest", "¿"),
    ("szlig", "ß"),
];

/// `text` with entities decoded: named ones from [`ENTITIES`] and accented letters
/// (`&eacute;`, `&Agrave;`, `&ntilde;`, `&uuml;`, `&ccedil;`), and numeric ones; anything else
/// is left as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let decoded = rest[1..].find(';').filter(|&end| end <= 10).and_then(|end| entity(&rest[1..=end]).map(|c| (c, end + 2)));
        match decoded {
            Some((c, len)) => {
                out.push_str(&c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0').map(String::from);
    }
    if let Some((_, text)) = ENTITIES.iter().find(|(entity, _)| *entity == name) {
        return Some(text.to_string());
    }
    accented(name)
}

/// `eacute` → `é`: a base letter and a diacritic name.
fn accented(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let letter = chars.next().filter(char::is_ascii_alphabetic)?;
    let combining = match chars.as_str() {
        "grave" => '\u{300}',
        "acute" => '\u{301}',
        "circ" => '\u{302}',
        "tilde" => '\u{303}',
        "uml" => '\u{308}',
        "ring" => '\u{30a}',
        "cedil" => '\u{327}',
        _ => return None,
    };
    compose(letter, combining).map(String::from)
}

/// The precomposed Latin-1 letter for `letter` + `combining`, if there is one.
fn compose(letter: char, combining: char) -> Option<char> {
    const TABLE: &[(char, &str, &str)] = &[
        ('\u{300}', "aeiouAEIOU", "àèìòùÀÈÌÒÙ"),
        ('\u{301}', "aeiouyAEIOUY", "áéíóúýÁÉÍÓÚÝ"),
        ('\u{302}', "aeiouAEIOU", "âêîôûÂÊÎÔÛ"),
        ('\u{303}', "anoANO", "ãñõÃÑÕ"),
        ('\u{308}', "aeiouyAEIOU", "äëïöüÿÄËÏÖÜ"),
        ('\u{30a}', "aA", "åÅ"),
        ('\u{327}', "cC", "çÇ"),
    ];
    let (_, bases, composed) = TABLE.iter().find(|(mark, _, _)| *mark == combining)?;
    let index = bases.chars().position(|c| c == letter)?;
    composed.chars().nth(index)
}

/// The text being written: whitespace collapsed, at most one blank line in a row.
#[derive(Default)]
struct Text {
    out: String,
    /// Whitespace seen since the last word, written only before the next word on the line.
    space: bool,
    /// Line ends owed before the next word (1: a new line, 2: a blank line).
    breaks: usize,
}

impl Text {
    fn push_text(&mut self, text: &str) {
        for (i, word) in text.split(|c: char| c.is_whitespace()).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.breaks > 0 {
                if !self.out.is_empty() {
                    self.out.push_str(&"\n".repeat(self.breaks));
                }
                self.breaks = 0;
            } else if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push_str(word);
        }
    }

    fn end_line(&mut self, lines: usize) {
        self.breaks = self.breaks.max(lines);
        self.space = false;
    }

    /// `<br>`: one line end more, so two in a row leave a blank line.
    fn line_break(&mut self) {
        self.end_line((self.breaks + 1).min(2));
    }

    /// Writes ` (href)` after a link's text, unless the text already says it (or there was no
    /// text, when the target alone is written) or the target is in-page.
    fn link_target(&mut self, href: &str) {
        if href.starts_with('#') || href.is_empty() {
            return;
        }
        let written = self.out.rsplit('\n').next().unwrap_or_default();
        let bare = href.strip_prefix("mailto:").or_else(|| href.strip_prefix("tel:")).unwrap_or(href);
        if written.ends_with(href) || written.ends_with(bare) {
            return;
        }
        self.push_text(&format!(" ({href})"));
    }

    fn finish(self) -> String {
        self.out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_string()
    }
}
