//! HTML as mail clients write it, and as attackers do.

use super::*;

#[test]
fn blocks_breaks_and_whitespace() {
    let cases = [
        ("<p>Hello\n   world</p><p>Bye</p>", "Hello world\n\nBye"),
        ("a<br>b<br/><br>c", "a\nb\n\nc"),
        ("<div>one</div><div>two</div>", "one\ntwo"),
        ("<b>bold</b> and <i>it</i>", "bold and it"),
        (
            "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
            "a b\nc",
        ),
        ("<pre>x  =  1\n  y</pre>", "x  =  1\n  y"),
    ];
    for (html, want) in cases {
        assert_eq!(html_to_text(html), want, "{html}");
    }
}

#[test]
fn lists() {
    assert_eq!(html_to_text("<ul><li>a</li><li>b</li></ul>"), "- a\n- b");
    assert_eq!(html_to_text("<ol><li>a<li>b</ol>"), "1. a\n2. b");
    assert_eq!(
        html_to_text("<ul><li>a<ul><li>b</li></ul></li></ul>"),
        "- a\n\n  - b"
    );
}

#[test]
fn entities() {
    assert_eq!(
        html_to_text("a&nbsp;&amp;&lt;b&gt; &#233;&#x1F600; &bogus; &#xFFFFFFFF; &"),
        "a &<b> é😀 &bogus; \u{fffd} &"
    );
    assert_eq!(decode_entities("&quot;x&quot;"), "\"x\"");
}

#[test]
fn drops_script_style_and_comments() {
    let html = "<head><style>p{color:red}</style><title>T</title></head>\
                    <body><!-- c --><script>var a='<p>';</script>Hi<!--[if mso]>x<![endif]--></body>";
    assert_eq!(html_to_text(html), "Hi");
}

#[test]
fn links_keep_their_text() {
    assert_eq!(
        html_to_text(r#"see <a href="https://x.y/?a=1&amp;b=2">the page</a>"#),
        "see the page"
    );
}

#[test]
fn blockquotes_are_quoted() {
    assert_eq!(
        html_to_text("<p>Answer</p><blockquote><p>q1</p><p>q2</p></blockquote>"),
        "Answer\n\n> q1\n>\n> q2"
    );
}

#[test]
fn reply_text_cuts_quote_containers() {
    let gmail = r#"<div>Fine, thanks.</div><div class="gmail_quote">On Mon, 2 May 2022, Ann &lt;<a href="mailto:a@x.org">a@x.org</a>&gt; wrote:<blockquote class="gmail_quote">How are you?</blockquote></div>"#;
    assert_eq!(html_reply_text(gmail), "Fine, thanks.");
    let apple = r#"Yes<div><br><blockquote type="cite"><div>Ok?</div></blockquote></div>"#;
    assert_eq!(html_reply_text(apple), "Yes");
    let outlook = r#"<p>Done</p><div id="divRplyFwdMsg"><b>From:</b> Ann</div><div>old</div>"#;
    assert_eq!(html_reply_text(outlook), "Done");
    let word = r#"<p>Done</p><div style="border:none; border-top:solid #E1E1E1 1.0pt"><p>From: Ann</p></div><p>old</p>"#;
    assert_eq!(html_reply_text(word), "Done");
    let bird = r#"Sure<div class="moz-cite-prefix">On 1.2.2022 Ann wrote:</div><blockquote type="cite">q</blockquote>"#;
    assert_eq!(html_reply_text(bird), "Sure");
    let plain = "<p>Hi</p><p>On Mon, 2 May 2022 at 10:00, Ann &lt;a@x.org&gt; wrote:</p><blockquote>q</blockquote>";
    assert_eq!(html_reply_text(plain), "Hi");
}

#[test]
fn no_panic_on_malformed_html() {
    let bad = [
        "<",
        "<<>>",
        "</",
        "<a href='x",
        "<p class=\"unterminated>text",
        "<!--",
        "<!",
        "&#",
        "&#x;",
        "<scr<script>ipt>",
        "<script>never closed",
        "é<é>ü</ü>",
        "<b>ü&amp",
        "</blockquote></blockquote>x",
        "<div class=gmail_quote>unclosed",
        "<ul><li>",
    ];
    for s in bad {
        let _ = html_to_text(s);
        let _ = html_reply_text(s);
    }
    assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
}
