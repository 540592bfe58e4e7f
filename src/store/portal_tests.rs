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
            status: Some(Status::Solved),
            ..Default::default()
        }),
        [1]
    );
    assert_eq!(
        ids(TicketFilter {
            data_log: true,
            ..Default::default()
        }),
        [1]
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
