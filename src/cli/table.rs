//! Plain-text tables for a terminal: columns padded to their widest cell,
//! long cells cut with an ellipsis so one row stays one line.

pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// The widest any column may get, in characters.
    max: usize,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
            max: 48,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| cut(&c, self.max)).collect());
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        for r in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(c);
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One line, at most `max` characters.
fn cut(s: &str, max: usize) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one.chars().count() <= max {
        return one;
    }
    let mut t: String = one.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_and_cuts_long_cells() {
        let mut t = Table::new(&["#", "subject"]);
        t.row(vec!["1".into(), "short".into()]);
        t.row(vec!["12".into(), "x".repeat(60)]);
        let out = t.render();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "#   subject");
        assert_eq!(lines[1], "1   short");
        assert!(lines[2].ends_with('…'), "{}", lines[2]);
        assert_eq!(lines[2].chars().count(), 4 + 48);
    }

    #[test]
    fn control_characters_never_break_a_row() {
        let mut t = Table::new(&["a"]);
        t.row(vec!["line\nbreak\x1b[31m".into()]);
        assert_eq!(t.render().lines().count(), 2);
    }
}
