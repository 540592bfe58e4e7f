//! The HTML as a tree, so quoted history is removed as whole elements
//! before the text is written: a quote container (Gmail's `gmail_quote`,
//! `<blockquote type="cite">`, Outlook's `divRplyFwdMsg`, …) goes with
//! everything inside it however its content is nested, and an end tag
//! closes the elements left open inside it, as browsers do. A start tag
//! inside a quote that is never closed cannot swallow the reply after it.
//!
//! Nodes are kept in document order (pre-order), each element with the
//! index just past its last descendant, so an element's subtree is a range
//! and "this element and everything after it" is a prefix: removal and
//! writing are both one pass, without recursion, whatever the nesting.

use super::{
    decode_entities, end_tag, quote_container, start_tag, Cut, Token, Tokens, Writer, RAW_TEXT,
};

/// Deeper elements become siblings of the deepest one: the text is kept,
/// the nesting is not (a hostile mail cannot make the stack grow without
/// bound).
const MAX_DEPTH: usize = 256;

/// Elements that never have content.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Start tags that close an open `<p>` (HTML's "close a p element").
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "div",
    "dl",
    "fieldset",
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
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
];

enum Kind<'a> {
    Text(&'a str),
    Element { name: String, attrs: &'a str },
}

struct Node<'a> {
    kind: Kind<'a>,
    /// One past the index of the last node inside this one.
    end: usize,
}

pub(super) struct Tree<'a> {
    nodes: Vec<Node<'a>>,
}

impl<'a> Tree<'a> {
    /// Builds the tree of `html` (script, style and the like left out).
    pub(super) fn parse(html: &'a str) -> Tree<'a> {
        let mut nodes: Vec<Node<'a>> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut tokens = Tokens::new(html);
        while let Some(tok) = tokens.next() {
            match tok {
                Token::Text(t) => nodes.push(Node {
                    kind: Kind::Text(t),
                    end: nodes.len() + 1,
                }),
                Token::Start {
                    name,
                    attrs,
                    self_closing,
                } => {
                    if RAW_TEXT.contains(&name.as_str()) {
                        if !self_closing {
                            tokens.skip_raw(&name);
                        }
                        continue;
                    }
                    close_implied(&mut nodes, &mut open, &name);
                    let id = nodes.len();
                    let empty = self_closing || VOID.contains(&name.as_str());
                    nodes.push(Node {
                        kind: Kind::Element { name, attrs },
                        end: id + 1,
                    });
                    if !empty && open.len() < MAX_DEPTH {
                        open.push(id);
                    }
                }
                Token::End { name } => {
                    // The nearest open element of that name closes, and
                    // everything left open inside it; a stray end tag is
                    // ignored.
                    if let Some(pos) = open.iter().rposition(|&n| is(&nodes[n], &name)) {
                        close_from(&mut nodes, &mut open, pos);
                    }
                }
            }
        }
        close_from(&mut nodes, &mut open, 0);
        Tree { nodes }
    }

    /// Writes the tree as text; with `cut_quotes`, quote containers are
    /// left out, and from a marker that opens the quoted history (Outlook's
    /// header div, Thunderbird's cite prefix) nothing more is written.
    pub(super) fn write(&self, w: &mut Writer, cut_quotes: bool) {
        // Elements written whose end tag is still due, innermost last.
        let mut open: Vec<usize> = Vec::new();
        let mut i = 0;
        while i < self.nodes.len() {
            while let Some(&top) = open.last() {
                if self.nodes[top].end > i {
                    break;
                }
                open.pop();
                if let Kind::Element { name, .. } = &self.nodes[top].kind {
                    end_tag(w, name);
                }
            }
            let node = &self.nodes[i];
            match &node.kind {
                Kind::Text(t) => w.text(&decode_entities(t)),
                Kind::Element { name, attrs } => {
                    match cut_quotes.then(|| quote_container(name, attrs)).flatten() {
                        Some(Cut::Rest) => break,
                        Some(Cut::Element) => {
                            w.block();
                            i = node.end;
                            continue;
                        }
                        None => {}
                    }
                    start_tag(w, name);
                    open.push(i);
                }
            }
            i += 1;
        }
        while let Some(top) = open.pop() {
            if let Kind::Element { name, .. } = &self.nodes[top].kind {
                end_tag(w, name);
            }
        }
    }
}

fn is(node: &Node<'_>, want: &str) -> bool {
    matches!(&node.kind, Kind::Element { name, .. } if name == want)
}

/// Closes `open[pos..]`: each ends where the nodes end now.
fn close_from(nodes: &mut [Node<'_>], open: &mut Vec<usize>, pos: usize) {
    let end = nodes.len();
    for &n in &open[pos..] {
        nodes[n].end = end;
    }
    open.truncate(pos);
}

/// The end tags HTML leaves out: a block closes an open `<p>`, a list
/// item the previous item of its list, a cell or row the previous one of
/// its table.
fn close_implied(nodes: &mut [Node<'_>], open: &mut Vec<usize>, name: &str) {
    let top_is = |open: &Vec<usize>, nodes: &[Node<'_>], n: &str| {
        open.last().is_some_and(|&t| is(&nodes[t], n))
    };
    if CLOSES_P.contains(&name) && top_is(open, nodes, "p") {
        let pos = open.len() - 1;
        close_from(nodes, open, pos);
    }
    let (same, scope): (&[&str], &[&str]) = match name {
        "li" => (&["li"], &["ul", "ol"]),
        "dt" | "dd" => (&["dt", "dd"], &["dl"]),
        "tr" => (&["tr"], &["table", "tbody", "thead", "tfoot"]),
        "td" | "th" => (&["td", "th"], &["tr", "table"]),
        "option" => (&["option"], &["select"]),
        _ => return,
    };
    for pos in (0..open.len()).rev() {
        let n = &nodes[open[pos]];
        if scope.iter().any(|s| is(n, s)) {
            return;
        }
        if same.iter().any(|s| is(n, s)) {
            close_from(nodes, open, pos);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{html_reply_text, html_to_text};

    #[test]
    fn a_quote_with_unclosed_elements_ends_at_its_end_tag() {
        let html = r#"<div>Yes, Tuesday.</div><blockquote type="cite"><div>old<div>older</blockquote><p>Ann</p>"#;
        assert_eq!(html_reply_text(html), "Yes, Tuesday.\n\nAnn");
    }

    #[test]
    fn implied_end_tags() {
        assert_eq!(html_to_text("<p>a<p>b"), "a\n\nb");
        assert_eq!(html_to_text("<ul><li>a<li>b</ul>"), "- a\n- b");
        assert_eq!(
            html_to_text("<table><tr><td>a<td>b<tr><td>c</table>"),
            "a b\nc"
        );
    }

    #[test]
    fn deep_nesting_is_linear() {
        let html = "<div>".repeat(100_000) + "deep" + &"</div>".repeat(100_000);
        let started = std::time::Instant::now();
        assert_eq!(html_to_text(&html), "deep");
        assert!(started.elapsed().as_secs() < 2);
        let quotes = r#"<blockquote type="cite">"#.repeat(50_000) + "q";
        assert_eq!(html_reply_text(&format!("<p>Hi</p>{quotes}")), "Hi");
    }
}
