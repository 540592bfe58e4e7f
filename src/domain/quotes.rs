//! Quote and signature stripping (placeholder until the corpus-checked version lands).

pub const REPLY_MARKER: &str = "##- Please type your reply above this line -##";

pub fn visible_text(body: &str, _sender: Option<&str>) -> String {
    let mut out = Vec::new();
    for line in body.lines() {
        if line.contains(REPLY_MARKER) || line == "-- " {
            break;
        }
        if line.starts_with('>') {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim().to_owned()
}
