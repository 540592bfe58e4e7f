//! HTML mail to plain text, and the new words of an HTML-only reply.
//!
//! A small tolerant tokenizer, not a parser: mail HTML is often broken
//! (unclosed tags, stray `<`, Word's conditional comments), so every
//! construct degrades to text or is skipped, nothing panics, and the work is
//! linear in the input. Block elements end lines, `<blockquote>` content is
//! prefixed with `>` so the plain-text quote rules apply to it as well.

use std::borrow::Cow;

mod tree;

/// The text of an HTML body: block elements and `<br>` end lines, list
/// items get "- " or "1. ", table cells are separated by spaces, entities
/// (named and numeric) are decoded, `<script>`/`<style>` are dropped,
/// whitespace is collapsed, links keep their text, and quoted blocks are
/// prefixed with `>`.
pub fn html_to_text(html: &str) -> String {
    convert(html, false)
}

/// The new words of an HTML reply: the quoted part is cut in the HTML
/// (Gmail's `gmail_quote`, `<blockquote type="cite">`, Outlook's
/// `divRplyFwdMsg` and top-bordered header div, Yahoo's `yahoo_quoted`,
/// Thunderbird's `moz-cite-prefix`, Hotmail's `stopSpelling` rule, …), the
/// rest is converted and goes through the plain-text
/// [`visible_text`](super::quotes::visible_text) rules.
///
/// Never empty when the sender wrote words of their own: when the cut in
/// the HTML leaves nothing (a forward that starts with Outlook's header
/// block, a reply typed inside the quote container), the whole document is
/// read by the plain-text rules instead, which make no cut that leaves
/// nothing.
pub fn html_reply_text(html: &str) -> String {
    let cut = super::quotes::visible_text(&convert(html, true), None);
    if !cut.trim().is_empty() {
        return cut;
    }
    let full = convert(html, false);
    if super::quotes::has_own_text(&full) {
        super::quotes::visible_text(&full, None)
    } else {
        cut
    }
}

/// Elements whose content is not text.
const RAW_TEXT: &[&str] = &["script", "style", "title", "xml", "template", "noscript"];

/// Elements that end the current line before and after.
const BLOCK: &[&str] = &[
    "div",
    "li",
    "tr",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
    "dt",
    "dd",
    "form",
    "fieldset",
    "nav",
    "aside",
    "figure",
    "figcaption",
    "main",
    "caption",
    "option",
    "body",
    "html",
];

/// Elements that stand apart as paragraphs (a blank line around them).
const PARAGRAPH: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
];

#[derive(Debug)]
enum Token<'a> {
    Text(&'a str),
    Start {
        name: String,
        attrs: &'a str,
        self_closing: bool,
    },
    End {
        name: String,
    },
}

/// Splits HTML into text, start tags and end tags; comments, doctypes and
/// processing instructions are skipped. All positions it cuts at are ASCII
/// bytes, so slicing never splits a UTF-8 character.
struct Tokens<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens { s, pos: 0 }
    }

    /// Moves past the next `</name` … `>` (any case), or to the end.
    fn skip_raw(&mut self, name: &str) {
        let bytes = self.s.as_bytes();
        let mut i = self.pos;
        while let Some(off) = self.s[i..].find("</") {
            let at = i + off;
            let tail = &bytes[at + 2..];
            if tail.len() >= name.len() && tail[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            {
                self.pos = self.s[at..].find('>').map_or(self.s.len(), |p| at + p + 1);
                return;
            }
            i = at + 2;
        }
        self.pos = self.s.len();
    }
}

fn tag_name(s: &str) -> usize {
    s.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b':' || *b == b'_')
        .count()
}

/// The end of a tag's attributes: the first `>` outside quotes.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let rest = &self.s[self.pos..];
            if rest.is_empty() {
                return None;
            }
            if !rest.starts_with('<') {
                let len = rest.find('<').unwrap_or(rest.len());
                self.pos += len;
                return Some(Token::Text(&rest[..len]));
            }
            if let Some(comment) = rest.strip_prefix("<!--") {
                self.pos += comment.find("-->").map_or(rest.len(), |p| p + 7);
                continue;
            }
            if rest.starts_with("<!") || rest.starts_with("<?") {
                self.pos += rest.find('>').map_or(rest.len(), |p| p + 1);
                continue;
            }
            let (closing, after) = match rest.strip_prefix("</") {
                Some(a) => (true, a),
                None => (false, &rest[1..]),
            };
            let name_len = tag_name(after);
            if name_len == 0 || !after.as_bytes()[0].is_ascii_alphabetic() {
                // A stray "<": plain text.
                self.pos += 1;
                return Some(Token::Text(&rest[..1]));
            }
            let name = after[..name_len].to_ascii_lowercase();
            let body = &after[name_len..];
            let Some(end) = tag_end(body) else {
                // An unterminated tag swallows the rest, as browsers do.
                self.pos = self.s.len();
                return None;
            };
            let consumed = (rest.len() - after.len()) + name_len + end + 1;
            self.pos += consumed;
            let attrs = &body[..end];
            return Some(if closing {
                Token::End { name }
            } else {
                Token::Start {
                    name,
                    self_closing: attrs.trim_end().ends_with('/'),
                    attrs,
                }
            });
        }
    }
}

/// The value of attribute `want` (lower-case) in a tag's attribute text.
fn attr(attrs: &str, want: &str) -> Option<String> {
    let b = attrs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        let name = &attrs[start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                i = vs;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = &attrs[vs..i];
                i = (i + 1).min(b.len());
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = &attrs[vs..i];
            }
        }
        if name.eq_ignore_ascii_case(want) {
            return Some(value.to_owned());
        }
        if i == start {
            i += 1;
        }
    }
    None
}

/// How much of the document a quote marker takes with it.
enum Cut {
    /// The element and its content.
    Element,
    /// Everything from here to the end.
    Rest,
}

/// Recognises the containers mail clients put quoted history in.
fn quote_container(name: &str, attrs: &str) -> Option<Cut> {
    let class = attr(attrs, "class")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let id = attr(attrs, "id").unwrap_or_default().to_ascii_lowercase();
    // Outlook prefixes the ids and classes of a message it quotes with
    // "x_" ("x_divRplyFwdMsg", "x_gmail_quote"): the same markers.
    let id = id.strip_prefix("x_").unwrap_or(&id).to_owned();
    let has_class = |c: &str| {
        class
            .split_ascii_whitespace()
            .any(|x| x.strip_prefix("x_").unwrap_or(x) == c)
    };
    if has_class("gmail_quote")
        || has_class("gmail_quote_container")
        || has_class("yahoo_quoted")
        || has_class("protonmail_quote")
        || has_class("gmail_attr")
        || has_class("zmail_extra")
        || class.contains("yahoo_quoted")
        || (name == "blockquote"
            && attr(attrs, "type").is_some_and(|t| t.eq_ignore_ascii_case("cite")))
    {
        return Some(Cut::Element);
    }
    if has_class("moz-cite-prefix")
        || has_class("outlookmessageheader")
        || id == "divrplyfwdmsg"
        || id == "appendonsend"
        || id == "olk_src_body_section"
        || id == "mail-editor-reference-message-container"
        || attr(attrs, "name").is_some_and(|n| n.eq_ignore_ascii_case("messageReplySection"))
        || (name == "hr" && (id == "stopspelling" || id == "zwchr"))
    {
        return Some(Cut::Rest);
    }
    if name == "div" {
        // Outlook's header block: `border:none;border-top:solid #E1E1E1 1.0pt`.
        let style: String = attr(attrs, "style")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if style.contains("border:none") && style.contains("border-top:solid") {
            return Some(Cut::Rest);
        }
    }
    None
}

/// Lines being built, each with its `<blockquote>` depth.
#[derive(Default)]
struct Writer {
    lines: Vec<(usize, String)>,
    cur: String,
    cur_depth: usize,
    depth: usize,
    space: bool,
    pre: usize,
    lists: Vec<Option<u32>>,
}

impl Writer {
    fn text(&mut self, s: &str) {
        for c in s.chars() {
            if matches!(
                c,
                '\u{200b}'..='\u{200f}' | '\u{feff}' | '\u{ad}' | '\u{2060}'
            ) {
                continue;
            }
            if self.pre > 0 {
                if c == '\n' {
                    self.newline();
                } else if c != '\r' {
                    self.push(c);
                }
            } else if c.is_whitespace() {
                self.space = !self.cur.is_empty();
            } else {
                if self.space {
                    self.cur.push(' ');
                    self.space = false;
                }
                self.push(c);
            }
        }
    }

    fn push(&mut self, c: char) {
        if self.cur.is_empty() {
            self.cur_depth = self.depth;
        }
        self.cur.push(c);
    }

    /// Ends the current line, even an empty one (`<br>`).
    fn newline(&mut self) {
        let depth = if self.cur.is_empty() {
            self.depth
        } else {
            self.cur_depth
        };
        self.lines.push((depth, std::mem::take(&mut self.cur)));
        self.space = false;
    }

    /// Ends the current line if it has text.
    fn block(&mut self) {
        if !self.cur.is_empty() {
            self.newline();
        }
        self.space = false;
    }

    /// Ends the current line and leaves a blank one.
    fn paragraph(&mut self) {
        self.block();
        if self.lines.last().is_some_and(|(_, l)| !l.trim().is_empty()) {
            self.lines.push((self.depth, String::new()));
        }
    }

    fn list_item(&mut self) {
        self.block();
        let level = self.lists.len().saturating_sub(1);
        let marker = match self.lists.last_mut() {
            Some(Some(n)) => {
                *n += 1;
                format!("{n}. ")
            }
            _ => "- ".to_owned(),
        };
        let indent = "  ".repeat(level);
        for c in indent.chars().chain(marker.chars()) {
            self.push(c);
        }
        self.space = false;
    }

    fn finish(mut self) -> String {
        self.block();
        // Blank lines: none at the start or end, never two in a row.
        let mut out: Vec<(bool, String)> = Vec::new();
        for (depth, line) in &self.lines {
            let line = line.trim_end();
            let blank = line.is_empty();
            if blank && out.last().is_none_or(|(b, _)| *b) {
                continue;
            }
            let rendered = match (*depth, blank) {
                (0, _) => line.to_owned(),
                (d, true) => ">".repeat(d),
                (d, false) => format!("{} {line}", ">".repeat(d)),
            };
            out.push((blank, rendered));
        }
        while out.last().is_some_and(|(b, _)| *b) {
            out.pop();
        }
        let lines: Vec<String> = out.into_iter().map(|(_, l)| l).collect();
        lines.join("\n")
    }
}

fn convert(html: &str, cut_quotes: bool) -> String {
    let mut w = Writer::default();
    tree::Tree::parse(html).write(&mut w, cut_quotes);
    w.finish()
}

fn start_tag(w: &mut Writer, name: &str) {
    match name {
        "br" => w.newline(),
        "hr" => {
            w.paragraph();
            w.text("---");
            w.paragraph();
        }
        "li" => w.list_item(),
        "ul" | "ol" => {
            w.paragraph();
            w.lists.push(if name == "ol" { Some(0) } else { None });
        }
        "td" | "th" => w.space = !w.cur.is_empty(),
        "blockquote" => {
            w.paragraph();
            w.depth += 1;
        }
        "pre" => {
            w.paragraph();
            w.pre += 1;
        }
        _ if PARAGRAPH.contains(&name) => w.paragraph(),
        _ if BLOCK.contains(&name) => w.block(),
        _ => {}
    }
}

fn end_tag(w: &mut Writer, name: &str) {
    match name {
        "ul" | "ol" => {
            w.lists.pop();
            w.paragraph();
        }
        "blockquote" => {
            w.paragraph();
            w.depth = w.depth.saturating_sub(1);
        }
        "pre" => {
            w.paragraph();
            w.pre = w.pre.saturating_sub(1);
        }
        "td" | "th" => w.space = !w.cur.is_empty(),
        _ if PARAGRAPH.contains(&name) => w.paragraph(),
        _ if BLOCK.contains(&name) => w.block(),
        _ => {}
    }
}

/// Decodes `&name;`, `&#123;` and `&#x1F600;`. Unknown names stay as they
/// are; invalid code points become U+FFFD.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        // Entity names are ASCII, so a `;` within 32 bytes is a boundary.
        let semi = tail
            .bytes()
            .take(34)
            .position(|b| b == b';')
            .filter(|&p| p > 1);
        let decoded = semi.and_then(|p| decode_one(&tail[1..p]).map(|c| (c, p)));
        match decoded {
            Some((c, p)) => {
                out.push(c);
                rest = &tail[p + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn decode_one(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        return Some(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}'),
        );
    }
    let c = match name {
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        "iexcl" => '¡',
        "iquest" => '¿',
        "shy" | "zwnj" | "zwj" | "lrm" | "rlm" => '\u{200b}',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "aacute" => 'á',
        "eacute" => 'é',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "Aacute" => 'Á',
        "Eacute" => 'É',
        "Iacute" => 'Í',
        "Oacute" => 'Ó',
        "Uacute" => 'Ú',
        "agrave" => 'à',
        "egrave" => 'è',
        "igrave" => 'ì',
        "ograve" => 'ò',
        "ugrave" => 'ù',
        "Agrave" => 'À',
        "Egrave" => 'È',
        "acirc" => 'â',
        "ecirc" => 'ê',
        "icirc" => 'î',
        "ocirc" => 'ô',
        "ucirc" => 'û',
        "euml" => 'ë',
        "iuml" => 'ï',
        "yuml" => 'ÿ',
        "ccedil" => 'ç',
        "Ccedil" => 'Ç',
        "ntilde" => 'ñ',
        "Ntilde" => 'Ñ',
        "atilde" => 'ã',
        "otilde" => 'õ',
        "aring" => 'å',
        "Aring" => 'Å',
        "aelig" => 'æ',
        "AElig" => 'Æ',
        "oslash" => 'ø',
        "Oslash" => 'Ø',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests;
