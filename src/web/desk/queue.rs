//! `GET /desk`: the queue — every ticket, newest activity first, with the
//! counts per status, the filters (status, priority, category,
//! organization, assignee, full-text search), which combine and stay in the
//! URL, and pages of [`LIMIT`] rows (`?page=N`).

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::{pages, percent};
use crate::domain::model::{Priority, Status};
use crate::store::desk::{AssigneeFilter, QueueFilter};

/// Rows a page of the queue shows; the count says how many matched.
pub const LIMIT: u32 = 200;

/// Pages reachable at most: past it the offset alone would cost more than
/// the page is worth (a search or a filter finds an old ticket sooner).
pub const MAX_PAGE: u32 = 10_000;

#[derive(Deserialize, Default, Serialize, Clone)]
pub struct QueueQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    org: String,
    /// `me`, `none` or an agent's address.
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    q: String,
    /// Read as text: a page number that is no number is page 1, not a 400.
    #[serde(default)]
    page: String,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    count: Option<i64>,
    current: bool,
    href: String,
}

fn short(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// `/desk?…` with `key` set to `value` and the other filters kept; any
/// change of filter goes back to the first page.
fn href(q: &QueueQuery, key: &str, value: &str) -> String {
    let mut parts: Vec<(&str, &str)> = vec![
        ("status", q.status.as_str()),
        ("priority", q.priority.as_str()),
        ("category", q.category.as_str()),
        ("org", q.org.as_str()),
        ("assignee", q.assignee.as_str()),
        ("q", q.q.as_str()),
        ("page", ""),
    ];
    for p in &mut parts {
        if p.0 == key {
            p.1 = value;
        }
    }
    let query: Vec<String> = parts
        .iter()
        .filter(|(k, v)| !(v.is_empty() || (*k == "page" && *v == "1")))
        .map(|(k, v)| format!("{k}={}", percent::encode(v)))
        .collect();
    if query.is_empty() {
        "/desk".into()
    } else {
        format!("/desk?{}", query.join("&"))
    }
}

/// `5123` → `5,123`: counts an agent reads at a glance.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The line above the table: "3 tickets", "201–400 of 5,123 tickets", …;
/// with `more`, `total` is a floor ("1–200 of more than 1,000 tickets").
fn range_line(total: i64, offset: i64, shown: usize, page: u32, more: bool) -> String {
    let noun = if total == 1 && !more {
        "ticket"
    } else {
        "tickets"
    };
    if more && shown > 0 {
        format!(
            "{}–{} of more than {} {noun}",
            thousands(offset + 1),
            thousands(offset + shown as i64),
            thousands(total)
        )
    } else if total == 0 {
        "No tickets".into()
    } else if shown == 0 {
        format!("Page {page} is past the end: {} {noun}", thousands(total))
    } else if offset == 0 && total <= shown as i64 {
        format!("{} {noun}", thousands(total))
    } else {
        format!(
            "{}–{} of {} {noun}",
            thousands(offset + 1),
            thousands(offset + shown as i64),
            thousands(total)
        )
    }
}

/// What `?assignee=` asks for: `me`, `none`, an address, or nothing.
fn assignee_filter(value: &str, me: &str) -> Option<AssigneeFilter> {
    match value {
        "" => None,
        "me" => Some(AssigneeFilter::Agent(me.to_owned())),
        "none" => Some(AssigneeFilter::Unassigned),
        email => Some(AssigneeFilter::Agent(email.to_owned())),
    }
}

pub async fn show(
    State(web): State<super::super::State>,
    user: SignedIn,
    Query(raw): Query<QueueQuery>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    // Unknown words are no filter (and are dropped from the links).
    let status = raw.status.parse::<Status>().ok();
    let priority = raw.priority.parse::<Priority>().ok();
    let page: u32 = raw.page.trim().parse().unwrap_or(1).clamp(1, MAX_PAGE);
    let assignee = match raw.assignee.trim() {
        a @ ("me" | "none") => a.to_owned(),
        a => crate::domain::model::normalize_email(&short(a, 200)),
    };
    let q = QueueQuery {
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        priority: priority.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        category: short(&raw.category, 200),
        org: short(&raw.org, 200),
        assignee,
        q: short(&raw.q, 200),
        page: page.to_string(),
    };
    let filter = QueueFilter {
        status,
        priority,
        category: Some(q.category.clone()).filter(|c| !c.is_empty()),
        org: Some(q.org.clone()).filter(|o| !o.is_empty()),
        assignee: assignee_filter(&q.assignee, &user.email),
        q: Some(q.q.clone()).filter(|s| !s.is_empty()),
        page,
    };
    let filtered = filter.narrows();
    let view = Page {
        q,
        page,
        filtered,
        site_categories: web.site.categories.clone(),
        layout: super::layout(&web, &user),
    };
    // Rendered on the database thread, beside the reads: 200 rows are most
    // of a page's CPU, and the async thread that serves every connection
    // would otherwise render them all, one page after another.
    let html =
        super::db::queue(&web, user.viewer(), filter, LIMIT, move |v| view.render(v)).await?;
    Ok(Html(html).into_response())
}

/// What the page needs besides the queue's data.
struct Page {
    q: QueueQuery,
    page: u32,
    filtered: bool,
    /// The configured categories (listed even before any ticket has one).
    site_categories: Vec<String>,
    layout: minijinja::Value,
}

impl Page {
    fn render(self, v: super::db::QueueView) -> String {
        let Page {
            q,
            page,
            filtered,
            site_categories,
            layout,
        } = self;
        let status = q.status.as_str();
        let mut tabs = vec![Choice {
            value: String::new(),
            label: "All".into(),
            count: Some(v.all),
            current: status.is_empty(),
            href: href(&q, "status", ""),
        }];
        for c in &v.counts {
            tabs.push(Choice {
                value: c.status.into(),
                label: status_word(c.status).into(),
                count: Some(c.count),
                current: q.status == c.status,
                href: href(&q, "status", c.status),
            });
        }
        let priorities: Vec<Choice> = Priority::ALL
            .iter()
            .map(|p| Choice {
                value: p.as_str().into(),
                label: super::super::tickets::priority_label(*p).into(),
                count: None,
                current: q.priority == p.as_str(),
                href: String::new(),
            })
            .collect();
        let mut assignees = vec![
            Choice {
                value: "me".into(),
                label: "Me".into(),
                count: None,
                current: q.assignee == "me",
                href: String::new(),
            },
            Choice {
                value: "none".into(),
                label: "Unassigned".into(),
                count: None,
                current: q.assignee == "none",
                href: String::new(),
            },
        ];
        for a in &v.agents {
            assignees.push(Choice {
                current: q.assignee == a.email,
                label: super::db::who(a),
                value: a.email.clone(),
                count: None,
                href: String::new(),
            });
        }
        // An address typed into the URL stays visible as the filter in use.
        if !q.assignee.is_empty() && !assignees.iter().any(|c| c.current) {
            assignees.push(Choice {
                value: q.assignee.clone(),
                label: q.assignee.clone(),
                count: None,
                current: true,
                href: String::new(),
            });
        }
        let mut categories = v.categories.clone();
        for c in &site_categories {
            if !categories.contains(c) {
                categories.push(c.clone());
            }
        }
        categories.sort();
        let offset = i64::from(page - 1) * i64::from(LIMIT);
        let shown = v.rows.len();
        let mut pages = (v.total + i64::from(LIMIT) - 1) / i64::from(LIMIT);
        let pages_label = if v.more {
            // The count is a floor: there is at least one page more.
            pages += 1;
            format!("more than {}", pages - 1)
        } else {
            pages.to_string()
        };
        let prev = (page > 1).then(|| {
            let to = i64::from(page - 1).min(pages.max(1));
            href(&q, "page", &to.to_string())
        });
        let next = (i64::from(page) < pages && page < MAX_PAGE)
            .then(|| href(&q, "page", &(page + 1).to_string()));
        pages::render(
            "desk_queue.html",
            minijinja::context! {
                title => "Desk", rows => v.rows, total => v.total,
                range => range_line(v.total, offset, shown, page, v.more),
                page => page, pages => pages_label, prev => prev, next => next, limit => LIMIT,
                tabs => tabs, priorities => priorities, assignees => assignees,
                categories => categories, orgs => v.orgs, f => q, filtered => filtered,
                clear => "/desk",
                ..layout
            },
        )
    }
}

/// How an agent reads a status (the words of `tickets list`).
pub fn status_word(s: &str) -> &'static str {
    match s {
        "open" => "Open",
        "pending" => "Pending",
        "solved" => "Solved",
        "closed" => "Closed",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_links_keep_the_other_filters_and_encode_them() {
        let q = QueueQuery {
            status: "open".into(),
            assignee: "me".into(),
            q: "E-1042 & <b>".into(),
            page: "3".into(),
            ..Default::default()
        };
        assert_eq!(
            href(&q, "priority", "urgent"),
            "/desk?status=open&priority=urgent&assignee=me&q=E-1042%20%26%20%3Cb%3E"
        );
        assert_eq!(
            href(&q, "status", ""),
            "/desk?assignee=me&q=E-1042%20%26%20%3Cb%3E"
        );
        assert_eq!(
            href(&q, "page", "4"),
            "/desk?status=open&assignee=me&q=E-1042%20%26%20%3Cb%3E&page=4"
        );
        assert_eq!(
            href(&q, "page", "1"),
            "/desk?status=open&assignee=me&q=E-1042%20%26%20%3Cb%3E"
        );
        assert_eq!(href(&QueueQuery::default(), "status", ""), "/desk");
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        for (n, want) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (5_123, "5,123"),
            (1_234_567, "1,234,567"),
            (-4_200, "-4,200"),
        ] {
            assert_eq!(thousands(n), want);
        }
    }

    #[test]
    fn the_range_line_says_which_rows_of_how_many() {
        for (total, offset, shown, page, want) in [
            (0, 0, 0, 1, "No tickets"),
            (1, 0, 1, 1, "1 ticket"),
            (3, 0, 3, 1, "3 tickets"),
            (5_123, 0, 200, 1, "1–200 of 5,123 tickets"),
            (5_123, 200, 200, 2, "201–400 of 5,123 tickets"),
            (5_123, 5_000, 123, 26, "5,001–5,123 of 5,123 tickets"),
            (
                5_123,
                6_000,
                0,
                31,
                "Page 31 is past the end: 5,123 tickets",
            ),
        ] {
            assert_eq!(range_line(total, offset, shown, page, false), want);
        }
        for (total, offset, shown, page, want) in [
            (1_000, 0, 200, 1, "1–200 of more than 1,000 tickets"),
            (1_000, 800, 200, 5, "801–1,000 of more than 1,000 tickets"),
        ] {
            assert_eq!(range_line(total, offset, shown, page, true), want);
        }
    }

    #[test]
    fn assignee_words() {
        assert_eq!(assignee_filter("", "a@x.test"), None);
        assert_eq!(
            assignee_filter("me", "a@x.test"),
            Some(AssigneeFilter::Agent("a@x.test".into()))
        );
        assert_eq!(
            assignee_filter("none", "a@x.test"),
            Some(AssigneeFilter::Unassigned)
        );
        assert_eq!(
            assignee_filter("b@x.test", "a@x.test"),
            Some(AssigneeFilter::Agent("b@x.test".into()))
        );
    }
}
