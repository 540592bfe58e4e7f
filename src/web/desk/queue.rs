//! `GET /desk`: the queue — every ticket, newest activity first, with the
//! counts per status and the filters (status, priority, category,
//! organization, search), which combine and stay in the URL.
//!
//! Not yet: `?assignee=` (the schema has no assignee column yet), and the
//! search is a `LIKE` over subjects and message texts (internal notes
//! included), not FTS5.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::pages;
use crate::domain::model::{Priority, Status};
use crate::store::desk::QueueFilter;

/// Rows the queue shows at most; the count says how many matched.
pub const LIMIT: u32 = 200;

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
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
    count: Option<i64>,
    current: bool,
    href: String,
}

fn short(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// `/desk?…` with `key` set to `value` and the other filters kept.
fn href(q: &QueueQuery, key: &str, value: &str) -> String {
    let mut parts: Vec<(&str, &str)> = vec![
        ("status", q.status.as_str()),
        ("priority", q.priority.as_str()),
        ("category", q.category.as_str()),
        ("org", q.org.as_str()),
        ("q", q.q.as_str()),
    ];
    for p in &mut parts {
        if p.0 == key {
            p.1 = value;
        }
    }
    let query: Vec<String> = parts
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if query.is_empty() {
        "/desk".into()
    } else {
        format!("/desk?{}", query.join("&"))
    }
}

/// Percent-encoding for a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
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
    let q = QueueQuery {
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        priority: priority.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        category: short(&raw.category, 200),
        org: short(&raw.org, 200),
        q: short(&raw.q, 200),
    };
    let filter = QueueFilter {
        status,
        priority,
        category: Some(q.category.clone()).filter(|c| !c.is_empty()),
        org: Some(q.org.clone()).filter(|o| !o.is_empty()),
        q: Some(q.q.clone()).filter(|s| !s.is_empty()),
    };
    let filtered = filter != QueueFilter::default();
    let v = super::db::queue(&web, user.viewer(), filter, LIMIT).await?;
    let mut tabs = vec![Choice {
        value: "",
        label: "All",
        count: Some(v.all),
        current: status.is_none(),
        href: href(&q, "status", ""),
    }];
    for c in &v.counts {
        tabs.push(Choice {
            value: c.status,
            label: status_word(c.status),
            count: Some(c.count),
            current: q.status == c.status,
            href: href(&q, "status", c.status),
        });
    }
    let priorities: Vec<Choice> = Priority::ALL
        .iter()
        .map(|p| Choice {
            value: p.as_str(),
            label: super::super::tickets::priority_label(*p),
            count: None,
            current: q.priority == p.as_str(),
            href: String::new(),
        })
        .collect();
    let mut categories = v.categories.clone();
    for c in &web.site.categories {
        if !categories.contains(c) {
            categories.push(c.clone());
        }
    }
    categories.sort();
    Ok(Html(pages::render(
        "desk_queue.html",
        minijinja::context! {
            title => "Desk", rows => v.rows, total => v.total, limit => LIMIT,
            shown => v.total.min(i64::from(LIMIT)), tabs => tabs, priorities => priorities,
            categories => categories, orgs => v.orgs, f => q, filtered => filtered,
            clear => "/desk",
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
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
            q: "E-1042 & <b>".into(),
            ..Default::default()
        };
        assert_eq!(
            href(&q, "priority", "urgent"),
            "/desk?status=open&priority=urgent&q=E-1042%20%26%20%3Cb%3E"
        );
        assert_eq!(href(&q, "status", ""), "/desk?q=E-1042%20%26%20%3Cb%3E");
        assert_eq!(href(&QueueQuery::default(), "status", ""), "/desk");
    }
}
