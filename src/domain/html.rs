//! HTML to text (placeholder until the corpus-checked version lands).

pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

pub fn html_reply_text(html: &str) -> String {
    super::quotes::visible_text(&html_to_text(html), None)
}
