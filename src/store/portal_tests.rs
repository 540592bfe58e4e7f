//! The SQL twin of the access rule against the rule itself, on every
//! viewer × ticket of a small desk; sessions and password links.

use std::time::Duration;

use super::*;
use crate::store::{Durability, Store};

const NOW: Timestamp = Timestamp(1_800_000_000);

fn store(dir: &std::path::Path) -> Store {
    Store::open(
        &dir.join("t.db"),
        Duration::from_secs(5),
        Durability::Normal,
    )
    .expect("store")
}

fn user(conn: &Connection, email: &str, role: &str, org: Option<&str>) -> i64 {
    conn.execute(
        "INSERT INTO users (email, role, org, created_at) VALUES (?1, ?2, ?3, 0)",
        params![email, role, org],
    )
    .expect("user");
    conn.last_insert_rowid()
}

fn ticket(conn: &Connection, requester: i64, org: Option<&str>, watchers: &[i64]) -> TicketId {
    conn.execute(
        "INSERT INTO tickets (subject, status, priority, requester_id, org, created_at, updated_at)
         VALUES ('s', 'open', 'normal', ?1, ?2, 0, 0)",
        params![requester, org],
    )
    .expect("ticket");
    let id = conn.last_insert_rowid();
    for w in watchers {
        conn.execute(
            "INSERT INTO watchers (ticket_id, user_id) VALUES (?1, ?2)",
            params![id, w],
        )
        .expect("watcher");
    }
    TicketId(id)
}

/// A desk with every kind of viewer and ticket: (viewers, tickets).
fn desk(conn: &Connection) -> (Vec<Viewer>, Vec<TicketId>) {
    let people = [
        ("ann@acme.test", "member", Some("acme.test")),
        ("bob@acme.test", "member", Some("acme.test")),
        ("carl@acme.test", "admin", Some("acme.test")),
        ("dora@other.test", "admin", Some("other.test")),
        ("eve@example.test", "agent", Some("example.test")),
        ("zed@acme.test", "no_access", Some("acme.test")),
        ("gus@gmail.com", "member", None),
        ("hal@gmail.com", "admin", None),
    ];
    let ids: Vec<i64> = people
        .iter()
        .map(|(e, r, o)| user(conn, e, r, *o))
        .collect();
    let tickets = vec![
        ticket(conn, ids[0], Some("acme.test"), &[ids[1]]),
        ticket(conn, ids[3], Some("other.test"), &[ids[2]]),
        ticket(conn, ids[6], None, &[ids[0]]),
        ticket(conn, ids[7], None, &[]),
        ticket(conn, ids[5], Some("acme.test"), &[]),
        ticket(conn, ids[1], Some("acme.test"), &[ids[7], ids[6]]),
    ];
    let viewers = people
        .iter()
        .map(|(e, r, o)| Viewer {
            email: (*e).into(),
            role: r.parse().expect("role"),
            org: o.map(str::to_owned),
        })
        .collect();
    (viewers, tickets)
}

fn sql_may_view(conn: &Connection, v: &Viewer, t: TicketId) -> bool {
    let sql = format!(
        "SELECT count(*) FROM tickets t WHERE t.id = :id AND {}",
        may_view_sql(v.role)
    );
    let mut stmt = conn.prepare(&sql).expect("sql");
    let mut rows = bind(
        &mut stmt,
        &[(":id", &t.0), (":email", &v.email), (":org", &v.org)],
    )
    .expect("bind");
    let n: i64 = rows
        .next()
        .expect("row")
        .expect("one")
        .get(0)
        .expect("count");
    n == 1
}

#[test]
fn the_sql_rule_and_the_pure_rule_agree_on_every_case() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let (viewers, tickets) = desk(conn);
    let mut seen = 0;
    for v in &viewers {
        let mut want = Vec::new();
        for t in &tickets {
            let state = ticket_state(conn, *t).expect("state").expect("ticket");
            let pure = may_view(v, &state);
            assert_eq!(sql_may_view(conn, v, *t), pure, "{} on {t}", v.email);
            if pure {
                want.push(*t);
                seen += 1;
            }
        }
        want.reverse(); // newest first (same created_at: by id)
        let listed: Vec<TicketId> = tickets_for(conn, v, &TicketFilter::default(), 100, 0)
            .expect("list")
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(listed, want, "{}", v.email);
    }
    // The table is not trivial: some see some, the agent all, no_access none.
    assert!(
        seen > tickets.len() && seen < viewers.len() * tickets.len(),
        "{seen}"
    );
    let expect = [
        ("ann@acme.test", vec![1, 3]),
        ("bob@acme.test", vec![1, 6]),
        ("carl@acme.test", vec![1, 2, 5, 6]),
        ("dora@other.test", vec![2]),
        ("eve@example.test", vec![1, 2, 3, 4, 5, 6]),
        ("zed@acme.test", vec![]),
        ("gus@gmail.com", vec![3, 6]),
        ("hal@gmail.com", vec![4, 6]),
    ];
    for (email, ids) in expect {
        let v = viewers.iter().find(|v| v.email == email).expect("viewer");
        let got: Vec<i64> = tickets
            .iter()
            .filter(|t| sql_may_view(conn, v, **t))
            .map(|t| t.0)
            .collect();
        assert_eq!(got, ids, "{email}");
    }
}

#[test]
fn lists_filter_by_status_data_log_and_words_without_reading_internal_notes() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let (viewers, tickets) = desk(conn);
    conn.execute(
        "UPDATE tickets SET status = 'solved', subject = 'Printer 100% broken' WHERE id = ?1",
        [tickets[0].0],
    )
    .expect("solve");
    conn.execute(
        "INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
         VALUES (?1, 'in', 0, 'secret agent words', '', 1, 0), (?1, 'in', 0, 'the VPN drops', '', 0, 0)",
        [tickets[2].0],
    )
    .expect("messages");
    let agent = &viewers[4];
    let ids = |f: TicketFilter| -> Vec<i64> {
        tickets_for(conn, agent, &f, 100, 0)
            .expect("list")
            .iter()
            .map(|r| r.id.0)
            .collect()
    };
    assert_eq!(
        ids(TicketFilter {
            status: StatusFilter::Only(Status::Solved),
            ..Default::default()
        }),
        [1]
    );
    assert_eq!(
        ids(TicketFilter {
            status: StatusFilter::DataLog,
            ..Default::default()
        }),
        [1]
    );
    assert_eq!(
        ids(TicketFilter {
            status: StatusFilter::Active,
            ..Default::default()
        }),
        [6, 5, 4, 3, 2]
    );
    assert_eq!(
        ids(TicketFilter {
            q: Some("vpn".into()),
            ..Default::default()
        }),
        [3]
    );
    assert_eq!(
        ids(TicketFilter {
            q: Some("secret".into()),
            ..Default::default()
        }),
        Vec::<i64>::new(),
        "internal notes are never searched"
    );
    assert_eq!(
        ids(TicketFilter {
            q: Some("100%".into()),
            ..Default::default()
        }),
        [1]
    );
    assert_eq!(
        ids(TicketFilter {
            q: Some("1%".into()),
            ..Default::default()
        }),
        Vec::<i64>::new(),
        "% is a character"
    );
    assert_eq!(
        ids(TicketFilter {
            q: Some("#4".into()),
            ..Default::default()
        }),
        [4]
    );
    let rows = tickets_for(
        conn,
        agent,
        &TicketFilter {
            q: Some("vpn".into()),
            ..Default::default()
        },
        10,
        0,
    )
    .expect("list");
    assert_eq!(
        rows[0].description, "the VPN drops",
        "the first public message"
    );
    assert_eq!(rows[0].assignee, None);
    assert_eq!(
        tickets_for(conn, agent, &TicketFilter::default(), 2, 2)
            .expect("page")
            .len(),
        2
    );
}

#[test]
fn sessions_end_when_they_expire_or_their_user_loses_access() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let ann = user(conn, "ann@acme.test", "member", Some("acme.test"));
    let h1 = hash_token("one");
    let h2 = hash_token("two");
    create_session(conn, ann, &h1, "form1", NOW, NOW.plus_secs(100)).expect("s1");
    create_session(conn, ann, &h2, "form2", NOW, NOW.plus_secs(100)).expect("s2");
    let (u, form) = session_user(conn, &h1, NOW).expect("read").expect("live");
    assert_eq!(
        (u.email.as_str(), u.role, form.as_str()),
        ("ann@acme.test", Role::Member, "form1")
    );
    assert_eq!(
        session_user(conn, &h1, NOW.plus_secs(100)).expect("read"),
        None,
        "expired"
    );
    touch(conn, &h1, NOW.plus_secs(5)).expect("touch");
    assert_eq!(
        delete_other_sessions(conn, ann, Some(&h1)).expect("others"),
        1
    );
    assert!(session_user(conn, &h2, NOW).expect("read").is_none());
    conn.execute("UPDATE users SET role = 'no_access' WHERE id = ?1", [ann])
        .expect("block");
    assert!(
        session_user(conn, &h1, NOW).expect("read").is_none(),
        "no_access at once"
    );
    assert!(delete_session(conn, &h1).expect("delete"));
    assert!(!delete_session(conn, &h1).expect("again"));
}

#[test]
fn an_org_admin_sets_roles_in_their_org_only() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let (viewers, _) = desk(conn);
    let carl = &viewers[2];
    assert_eq!(
        set_role_in_org(conn, carl, "ann@acme.test", Role::Admin, NOW).expect("ok"),
        Role::Member
    );
    assert_eq!(
        user_for_login(conn, "ANN@acme.test")
            .expect("read")
            .map(|u| u.role),
        Some(Role::Admin)
    );
    for (email, role) in [
        ("dora@other.test", Role::NoAccess),
        ("nobody@acme.test", Role::Member),
    ] {
        assert!(
            matches!(
                set_role_in_org(conn, carl, email, role, NOW),
                Err(StoreError::NotFound(_))
            ),
            "{email}"
        );
    }
    conn.execute(
        "UPDATE users SET org = 'acme.test' WHERE email = 'eve@example.test'",
        [],
    )
    .expect("agent in org");
    assert!(matches!(
        set_role_in_org(conn, carl, "eve@example.test", Role::Member, NOW),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        set_role_in_org(conn, carl, "carl@acme.test", Role::Member, NOW),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        set_role_in_org(conn, carl, "bob@acme.test", Role::Agent, NOW),
        Err(StoreError::Invalid(_))
    ));
    assert!(
        matches!(
            set_role_in_org(conn, &viewers[0], "bob@acme.test", Role::Admin, NOW),
            Err(StoreError::Invalid(_))
        ),
        "a member is no admin"
    );
    let members: Vec<String> = org_members(conn, "acme.test")
        .expect("members")
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert!(
        members.contains(&"zed@acme.test".to_string())
            && !members.contains(&"dora@other.test".to_string())
    );
}

/// A ticket of `requester` in `org` with this status and creation time.
fn ticket_at(
    conn: &Connection,
    requester: i64,
    org: Option<&str>,
    status: &str,
    created: i64,
) -> TicketId {
    conn.execute(
        "INSERT INTO tickets (subject, status, priority, requester_id, org, created_at, updated_at)
         VALUES ('s', ?3, 'normal', ?1, ?2, ?4, ?4)",
        params![requester, org, status, created],
    )
    .expect("ticket");
    TicketId(conn.last_insert_rowid())
}

fn ids(rows: &[TicketRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id.0).collect()
}

/// Regression: the default tab filtered open/pending after `LIMIT 200`, so
/// someone with 200 newer solved tickets saw none of their open ones.
#[test]
fn the_default_tab_finds_open_tickets_behind_more_than_200_solved_ones() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let ann = user(conn, "ann@acme.test", "member", Some("acme.test"));
    let open: Vec<i64> = (0..3)
        .map(|k| {
            ticket_at(
                conn,
                ann,
                Some("acme.test"),
                ["open", "pending", "open"][k],
                k as i64,
            )
            .0
        })
        .collect();
    for k in 0..250 {
        ticket_at(conn, ann, Some("acme.test"), "solved", 1_000 + k);
    }
    ticket_at(conn, ann, Some("acme.test"), "closed", 5_000);
    let ann = Viewer {
        email: "ann@acme.test".into(),
        role: Role::Member,
        org: Some("acme.test".into()),
    };
    let list = |status: StatusFilter, limit: u32, offset: u32| {
        let f = TicketFilter {
            status,
            ..Default::default()
        };
        ids(&tickets_for(conn, &ann, &f, limit, offset).expect("list"))
    };
    let newest_first: Vec<i64> = open.iter().rev().copied().collect();
    assert_eq!(list(StatusFilter::Active, 200, 0), newest_first);
    assert_eq!(
        list(StatusFilter::Only(Status::Open), 200, 0),
        [open[2], open[0]]
    );
    assert_eq!(list(StatusFilter::Only(Status::Pending), 200, 0), [open[1]]);
    assert_eq!(list(StatusFilter::Active, 2, 1), [open[1], open[0]]);
    assert_eq!(list(StatusFilter::DataLog, 500, 0).len(), 251);
    assert_eq!(list(StatusFilter::All, 200, 0).len(), 200);
    assert!(
        list(StatusFilter::All, 200, 0)
            .iter()
            .all(|id| !open.contains(id)),
        "with every status, the 200 newest are solved or closed"
    );
}

/// An admin's list is a UNION of their organization's tickets and the
/// member rule (own and watched, in any organization): every one of those
/// and nothing else, newest first, and the same rows page by page as in
/// one go (the org branch's inner limit is limit + offset).
#[test]
fn an_admin_lists_their_org_and_their_own_tickets_and_never_a_foreign_one() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let carl = user(conn, "carl@acme.test", "admin", Some("acme.test"));
    let ann = user(conn, "ann@acme.test", "member", Some("acme.test"));
    let dora = user(conn, "dora@other.test", "member", Some("other.test"));
    let gus = user(conn, "gus@gmail.com", "member", None);
    let watch = |t: TicketId, u: i64| {
        conn.execute(
            "INSERT INTO watchers (ticket_id, user_id) VALUES (?1, ?2)",
            params![t.0, u],
        )
        .expect("watch");
    };
    let mut want = Vec::new();
    let mut foreign = Vec::new();
    for k in 0..30i64 {
        // Interleaved in time: org tickets, Carl's own elsewhere, watched
        // elsewhere, and other organizations' that he is not on.
        let t = ticket_at(conn, ann, Some("acme.test"), "open", k * 10);
        want.push(t.0);
        if k % 4 == 0 {
            let t = ticket_at(conn, carl, Some("other.test"), "open", k * 10 + 1);
            want.push(t.0);
        }
        if k % 5 == 0 {
            let t = ticket_at(conn, dora, Some("other.test"), "pending", k * 10 + 2);
            watch(t, carl);
            want.push(t.0);
        }
        let t = ticket_at(conn, dora, Some("other.test"), "open", k * 10 + 3);
        watch(t, gus);
        foreign.push(t.0);
        foreign.push(ticket_at(conn, gus, None, "open", k * 10 + 4).0);
    }
    // One both in the org and watched: listed once.
    let both = ticket_at(conn, ann, Some("acme.test"), "open", 1_000);
    watch(both, carl);
    want.push(both.0);
    // The same minute in and out of the organization: by number, as SQL orders them.
    for _ in 0..3 {
        want.push(ticket_at(conn, ann, Some("acme.test"), "open", 2_000).0);
        want.push(ticket_at(conn, carl, Some("other.test"), "open", 2_000).0);
    }
    want.reverse();
    let carl = Viewer {
        email: "carl@acme.test".into(),
        role: Role::Admin,
        org: Some("acme.test".into()),
    };
    let all = TicketFilter::default();
    assert_eq!(
        ids(&tickets_for(conn, &carl, &all, 500, 0).expect("list")),
        want
    );
    for limit in [1, 3, 7, 200] {
        let mut paged = Vec::new();
        for offset in (0..want.len() as u32 + limit).step_by(limit as usize) {
            paged.extend(ids(
                &tickets_for(conn, &carl, &all, limit, offset).expect("page")
            ));
        }
        assert_eq!(paged, want, "pages of {limit}");
    }
    // Each listed ticket passes the pure rule; none of the foreign ones does.
    for id in &want {
        let state = ticket_state(conn, TicketId(*id))
            .expect("state")
            .expect("ticket");
        assert!(may_view(&carl, &state), "#{id}");
    }
    for id in &foreign {
        let state = ticket_state(conn, TicketId(*id))
            .expect("state")
            .expect("ticket");
        assert!(!may_view(&carl, &state), "#{id}");
    }
    // The status filter applies to both branches.
    let pending = TicketFilter {
        status: StatusFilter::Only(Status::Pending),
        ..Default::default()
    };
    let listed = ids(&tickets_for(conn, &carl, &pending, 500, 0).expect("pending"));
    assert_eq!(listed.len(), 6, "the six watched ones of other.test");
    // An admin without an organization is a member: own and watched only.
    let hal = user(conn, "hal@gmail.com", "admin", None);
    let mine = ticket_at(conn, hal, None, "open", 2_000);
    let hal = Viewer {
        email: "hal@gmail.com".into(),
        role: Role::Admin,
        org: None,
    };
    assert_eq!(
        ids(&tickets_for(conn, &hal, &all, 500, 0).expect("hal")),
        [mine.0]
    );
}

#[test]
fn a_list_shows_the_assignee_by_name_else_address() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let ann = user(conn, "ann@acme.test", "member", Some("acme.test"));
    let eve = user(conn, "eve@example.test", "agent", None);
    let sam = user(conn, "sam@example.test", "agent", None);
    conn.execute("UPDATE users SET name = 'Eve Agent' WHERE id = ?1", [eve])
        .expect("name");
    let t1 = ticket_at(conn, ann, Some("acme.test"), "open", 1);
    let t2 = ticket_at(conn, ann, Some("acme.test"), "open", 2);
    let t3 = ticket_at(conn, ann, Some("acme.test"), "open", 3);
    for (t, a) in [(t1, eve), (t2, sam)] {
        conn.execute(
            "UPDATE tickets SET assignee_id = ?2 WHERE id = ?1",
            params![t.0, a],
        )
        .expect("assign");
    }
    let ann_v = Viewer {
        email: "ann@acme.test".into(),
        role: Role::Member,
        org: Some("acme.test".into()),
    };
    let rows = tickets_for(conn, &ann_v, &TicketFilter::default(), 10, 0).expect("list");
    let shown: Vec<(i64, Option<&str>)> = rows
        .iter()
        .map(|r| (r.id.0, r.assignee.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (t3.0, None),
            (t2.0, Some("sam@example.test")),
            (t1.0, Some("Eve Agent"))
        ]
    );
    let page = ticket_page(conn, &ann_v, t1)
        .expect("page")
        .expect("visible");
    assert_eq!(
        page.assignee,
        Some(Person {
            email: "eve@example.test".into(),
            name: Some("Eve Agent".into())
        })
    );
}

#[test]
fn a_ticket_page_hands_each_file_to_its_message_and_shows_no_note() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let ann = user(conn, "ann@acme.test", "member", Some("acme.test"));
    let t = ticket_at(conn, ann, Some("acme.test"), "open", 1);
    let message = |text: &str, internal: bool| -> i64 {
        conn.execute(
            "INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
             VALUES (?1, 'in', 0, ?2, '', ?3, 0)",
            params![t.0, text, internal],
        )
        .expect("message");
        conn.last_insert_rowid()
    };
    let file = |m: i64, name: &str| {
        conn.execute(
            "INSERT INTO attachments (message_id, filename, content_type, size, sha256)
             VALUES (?1, ?2, 'text/plain', 1, 'x')",
            params![m, name],
        )
        .expect("file");
    };
    let m1 = message("one", false);
    let note = message("note", true);
    let m2 = message("two", false);
    let m3 = message("three", false);
    file(m1, "a.txt");
    file(m1, "b.txt");
    file(note, "secret.txt");
    file(m3, "c.txt");
    let v = Viewer {
        email: "ann@acme.test".into(),
        role: Role::Member,
        org: Some("acme.test".into()),
    };
    let page = ticket_page(conn, &v, t).expect("page").expect("visible");
    let shown: Vec<(i64, Vec<&str>)> = page
        .messages
        .iter()
        .map(|m| {
            (
                m.id,
                m.attachments.iter().map(|a| a.filename.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (m1, vec!["a.txt", "b.txt"]),
            (m2, vec![]),
            (m3, vec!["c.txt"])
        ]
    );
}

#[test]
fn a_description_is_the_first_message_on_one_line_cut_at_160_characters() {
    // What it was before it stopped reading early: clean all, then cut.
    fn whole(text: &str) -> String {
        let line = crate::domain::normalize::one_line(text);
        if line.chars().count() <= DESCRIPTION_CHARS {
            return line;
        }
        let mut cut: String = line.chars().take(DESCRIPTION_CHARS - 1).collect();
        cut.push('…');
        cut
    }
    let mut cases = vec![
        String::new(),
        "  \n\t ".into(),
        "  Hello,\r\n\r\n  the export\u{202E}fails  ".into(),
        "é".repeat(160),
        "é".repeat(161),
        format!("{} {}", "a".repeat(158), "b".repeat(5)),
        format!("{}  \n  {}", "a".repeat(159), "b".repeat(5)),
        format!("{} ", "a".repeat(160)),
        format!("{}\u{200F}x", "a".repeat(159)),
        "a\u{a0}\u{2003}b\u{85}c\u{7f}d\tÉ".into(),
    ];
    for n in 150..170 {
        cases.push(format!(
            "{}\n\n{}",
            "word ".repeat(n / 5),
            "tail ".repeat(3)
        ));
    }
    // Every length around the cut, and long words across it, in ASCII and not.
    let pieces = ["a", "é", " ", "\u{202E}", "\n\t", "漢字", "xyz", "—"];
    let mut seed: u64 = 7;
    for _ in 0..2_000 {
        let mut text = String::new();
        while text.chars().count() < 175 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            if (seed >> 40).is_multiple_of(7) {
                text.push_str(&"w".repeat((seed >> 50) as usize % 40));
            }
        }
        for end in [150, 158, 159, 160, 161, 162, 175] {
            cases.push(text.chars().take(end).collect());
        }
    }
    for text in &cases {
        let d = description(text);
        assert_eq!(d, whole(text), "{text:?}");
        assert!(d.chars().count() <= DESCRIPTION_CHARS, "{d:?}");
    }
}

/// Regression: `LIKE :pattern` and `LIMIT :limit` made SQLite compile the
/// list's statement anew at every call (a bound LIKE pattern or LIMIT marks
/// a statement for re-preparing whenever it is bound), the cached statement
/// notwithstanding.
#[test]
fn a_list_statement_is_prepared_once_and_reused_searched_or_not() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let (viewers, _) = desk(conn);
    for v in viewers.iter().filter(|v| v.role != Role::NoAccess) {
        for (status, q) in [
            (StatusFilter::Active, None),
            (StatusFilter::All, Some("printer")),
            (StatusFilter::Only(Status::Open), Some("#3")),
            (StatusFilter::DataLog, None),
        ] {
            let f = TicketFilter {
                status,
                q: q.map(str::to_owned),
            };
            tickets_for(conn, v, &f, 50, 0).expect("list");
        }
        let searched = list_filters(
            &super::super::search::SearchQuery::parse("printer")
                .condition("t", true)
                .sql,
        );
        let shapes = [
            list_sqls(v, &list_filters("1"), 50, 0),
            list_sqls(v, &searched, 50, 0),
        ];
        for sql in shapes.iter().flatten() {
            let stmt = conn.prepare_cached(sql).expect("cached");
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{} {sql}",
                v.email
            );
        }
    }
}

/// A message row, `internal` or public, on `ticket`.
fn add_message(conn: &Connection, ticket: TicketId, text: &str, internal: bool) {
    conn.execute(
        "INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
         VALUES (?1, 'in', 0, ?2, ?2, ?3, 0)",
        params![ticket.0, text, internal],
    )
    .expect("message");
}

fn preview(conn: &Connection, ticket: TicketId) -> Option<String> {
    conn.query_row(
        "SELECT preview FROM tickets WHERE id = ?1",
        [ticket.0],
        |r| r.get(0),
    )
    .expect("preview")
}

#[test]
fn the_description_is_the_first_public_message_whatever_came_before_or_after() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path());
    let conn = store.conn();
    let ann = user(conn, "ann@acme.test", "member", Some("acme.test"));
    let t = ticket(conn, ann, Some("acme.test"), &[]);
    assert_eq!(preview(conn, t), None, "no message yet");
    add_message(conn, t, "an internal note first", true);
    assert_eq!(preview(conn, t), None, "a note is never a description");
    let long = format!("The printer jams. {}", "x".repeat(600));
    add_message(conn, t, &long, false);
    add_message(conn, t, "A later reply", false);
    let kept = preview(conn, t).expect("set by the first public message");
    assert_eq!(kept.chars().count(), 400, "the first 400 characters");
    assert!(long.starts_with(&kept));
    let viewer = Viewer {
        email: "ann@acme.test".into(),
        role: Role::Member,
        org: Some("acme.test".into()),
    };
    let rows = tickets_for(conn, &viewer, &TicketFilter::default(), 10, 0).expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].description, description(&long));
    assert!(rows[0].description.starts_with("The printer jams."));
}

#[test]
fn the_migration_gives_existing_tickets_their_description() {
    let conn = Connection::open_in_memory().expect("memory db");
    let migrations = super::super::MIGRATIONS;
    let v11 = migrations.len() - 1;
    for sql in &migrations[..v11] {
        conn.execute_batch(sql).expect("migration");
    }
    let ann = user(&conn, "ann@acme.test", "member", None);
    let (a, b, c) = (
        ticket(&conn, ann, None, &[]),
        ticket(&conn, ann, None, &[]),
        ticket(&conn, ann, None, &[]),
    );
    add_message(&conn, a, "note", true);
    add_message(&conn, a, "first public", false);
    add_message(&conn, a, "second public", false);
    add_message(&conn, b, "only a note", true);
    conn.execute_batch(migrations[v11]).expect("v11");
    assert_eq!(preview(&conn, a).as_deref(), Some("first public"));
    assert_eq!(preview(&conn, b), None);
    assert_eq!(preview(&conn, c), None);
    add_message(&conn, b, "now public", false);
    assert_eq!(preview(&conn, b).as_deref(), Some("now public"));
}
