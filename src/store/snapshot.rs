//! Reads what one decision needs: the sender, the ticket the threading keys
//! lead to, the agents, and who among the possible recipients is bouncing.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::domain::access::org_for;
use crate::domain::address::{base_address, Addressing};
use crate::domain::message::InboundMessage;
use crate::domain::model::{Outcome, Role, TicketId};
use crate::domain::state::{Candidate, Sender, Snapshot, ThreadRule, TicketState};
use crate::domain::threading::{personal_key_belongs, ThreadKeys};
use crate::domain::time::{Timestamp, HOUR};

/// What was recorded for a mail already processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub outcome: Outcome,
    pub ticket: Option<TicketId>,
    /// Digest of its body (None for rows from before it was kept).
    pub digest: Option<String>,
}

/// The record of a mail already processed under `key`.
pub fn seen(conn: &Connection, key: &str) -> Result<Option<Seen>, StoreError> {
    let row: Option<(String, Option<i64>, Option<String>)> = conn
        .prepare_cached("SELECT outcome, ticket_id, digest FROM seen WHERE key = ?1")?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.map(|(o, t, digest)| Seen {
        outcome: o.parse().unwrap_or(Outcome::Duplicate),
        ticket: t.map(TicketId),
        digest,
    }))
}

/// Recipients of the notification with this Message-ID, if ticketd sent it.
pub fn sent_to(conn: &Connection, message_id: &str) -> Result<Option<Vec<String>>, StoreError> {
    let row: Option<String> = conn
        .prepare_cached("SELECT recipients FROM outbox WHERE message_id = ?1")?
        .query_row([message_id], |r| r.get(0))
        .optional()?;
    Ok(row.map(|json| serde_json::from_str(&json).unwrap_or_default()))
}

/// What the snapshot of one mail is read for.
pub struct Lookup<'a> {
    pub sender_email: &'a str,
    pub keys: &'a ThreadKeys,
    pub addressing: &'a Addressing,
    pub personal_domains: &'a [String],
    pub oncall: Option<&'a str>,
    /// When the mail arrived: the throttle's clock.
    pub arrived: Timestamp,
}

pub fn load(
    conn: &Connection,
    msg: &InboundMessage<'_>,
    l: &Lookup<'_>,
    now: Timestamp,
) -> Result<Snapshot, StoreError> {
    let sender_email = l.sender_email;
    let oncall = l.oncall;
    let sender = load_sender(conn, sender_email, l.personal_domains, now, l.arrived)?;
    let agents = agents(conn)?;
    let candidate = find_candidate(conn, l, &agents)?;

    let mut possible: Vec<&str> = vec![sender_email];
    if let Some(c) = &candidate {
        possible.push(&c.ticket.requester);
        possible.extend(c.ticket.watchers.iter().map(String::as_str));
    }
    possible.extend(agents.iter().map(String::as_str));
    possible.extend(oncall);
    possible.extend(
        msg.to
            .iter()
            .chain(&msg.cc)
            .take(100)
            .map(|m| m.email.as_str()),
    );
    // One statement for every address (a mail's are up to a hundred and
    // more), not one each: the list goes in as a JSON array.
    possible.sort_unstable();
    possible.dedup();
    let list = serde_json::to_string(&possible).unwrap_or_else(|_| "[]".into());
    let bouncing: HashSet<String> = conn
        .prepare_cached(
            "SELECT email FROM users WHERE bouncing_since IS NOT NULL \
             AND email IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([list], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Snapshot {
        sender,
        candidate,
        agents,
        bouncing,
    })
}

/// id, role, org, has a password, when the last refusal notice went out.
type UserRow = (i64, String, Option<String>, bool, Option<i64>);

fn load_sender(
    conn: &Connection,
    email: &str,
    personal: &[String],
    now: Timestamp,
    arrived: Timestamp,
) -> Result<Sender, StoreError> {
    let row: Option<UserRow> = conn
        .prepare_cached(
            "SELECT id, role, org, password_hash IS NOT NULL, refused_notice_at FROM users WHERE email = ?1",
        )?
        .query_row([email], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    let Some((id, role, org, has_password, refused)) = row else {
        // New address, but perhaps a plus-variant of one that wrote.
        let tickets_last_hour = tickets_in_the_hour(conn, email, arrived)?;
        return Ok(Sender {
            email: email.to_owned(),
            role: Role::Member,
            org: org_for(email, personal),
            known: false,
            has_password: false,
            setup_pending: false,
            setup_expired: false,
            tickets_last_hour,
            refused_notice_at: None,
        });
    };
    let setup_pending = conn
        .prepare_cached(
            "SELECT 1 FROM password_tokens WHERE user_id = ?1 AND used_at IS NULL AND expires_at > ?2",
        )?
        .exists(params![id, now.0])?;
    let setup_expired = !setup_pending
        && conn
            .prepare_cached("SELECT 1 FROM password_tokens WHERE user_id = ?1 AND used_at IS NULL")?
            .exists(params![id])?;
    let tickets_last_hour = tickets_in_the_hour(conn, email, arrived)?;
    Ok(Sender {
        email: email.to_owned(),
        role: role.parse().unwrap_or(Role::Member),
        org,
        known: true,
        has_password,
        setup_pending,
        setup_expired,
        tickets_last_hour,
        refused_notice_at: refused.map(Timestamp),
    })
}

/// Tickets this person opened in the hour before `arrived`: counted by
/// arrival, so a drained backlog of old mail is no burst, and per person
/// (plus-variants of the address count together).
fn tickets_in_the_hour(
    conn: &Connection,
    email: &str,
    arrived: Timestamp,
) -> Result<u32, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM tickets WHERE arrived_at > ?2 AND arrived_at <= ?3
             AND requester_id IN (SELECT id FROM users WHERE base_email = ?1)",
        )?
        .query_row(
            params![base_address(email), arrived.0 - HOUR, arrived.0],
            |r| r.get(0),
        )?)
}

/// The first threading key, in rule order, that names an existing ticket
/// (a personal reply key only when it is the key of someone on the ticket).
fn find_candidate(
    conn: &Connection,
    l: &Lookup<'_>,
    agents: &[String],
) -> Result<Option<Candidate>, StoreError> {
    let keys = l.keys;
    if let Some(id) = keys.web_ticket {
        // A portal reply names its ticket; no other key is looked at.
        return Ok(ticket_state(conn, id)?.map(|ticket| Candidate {
            rule: ThreadRule::Web,
            ticket,
        }));
    }
    // A mail's own Message-ID is kept in thread_ids; a notification's is
    // its outbox row's (unique, indexed, and never deleted), so queueing
    // one writes no second copy. Rows queued before kept one in both.
    let mut by_id = conn.prepare_cached(
        "SELECT ticket_id FROM thread_ids WHERE message_id = ?1
         UNION ALL
         SELECT ticket_id FROM outbox WHERE message_id = ?1 AND ticket_id IS NOT NULL
         LIMIT 1",
    )?;
    for id in &keys.message_ids {
        if let Some(t) = by_id.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
            if let Some(ticket) = ticket_state(conn, TicketId(t))? {
                return Ok(Some(Candidate {
                    rule: ThreadRule::MessageId,
                    ticket,
                }));
            }
        }
    }
    if let Some(reply) = &keys.reply_address {
        if let Some(ticket) = ticket_state(conn, reply.ticket())? {
            if personal_key_belongs(reply, l.addressing, l.sender_email, &ticket, agents) {
                return Ok(Some(Candidate {
                    rule: ThreadRule::ReplyAddress,
                    ticket,
                }));
            }
        }
    }
    if let Some(id) = keys.subject_tag {
        if let Some(ticket) = ticket_state(conn, id)? {
            return Ok(Some(Candidate {
                rule: ThreadRule::SubjectTag,
                ticket,
            }));
        }
    }
    Ok(None)
}

pub fn ticket_state(conn: &Connection, id: TicketId) -> Result<Option<TicketState>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT t.subject, t.status, t.priority, t.category, u.email, t.org, t.solved_at,
                    (SELECT a.email FROM users a WHERE a.id = t.assignee_id)
             FROM tickets t JOIN users u ON u.id = t.requester_id WHERE t.id = ?1",
        )?
        .query_row([id.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })
        .optional()?;
    let Some((subject, status, priority, category, requester, org, solved_at, assignee)) = row
    else {
        return Ok(None);
    };
    Ok(Some(TicketState {
        id,
        subject,
        status: status
            .parse()
            .map_err(|e| StoreError::Invalid(format!("ticket {id}: {e}")))?,
        priority: priority
            .parse()
            .map_err(|e| StoreError::Invalid(format!("ticket {id}: {e}")))?,
        category,
        requester,
        org,
        watchers: watchers(conn, id)?,
        solved_at: solved_at.map(Timestamp),
        assignee,
    }))
}

pub fn watchers(conn: &Connection, id: TicketId) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.email FROM watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = ?1 ORDER BY u.email",
    )?;
    let rows = stmt.query_map([id.0], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn agents(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT email FROM users WHERE role = 'agent' ORDER BY email")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
