//! Assignment (DESIGN §9): a ticket has at most one assignee, an agent. One
//! writer for the mail command, the console and the desk, so each records
//! the same `assigned` event.

use rusqlite::{params, Connection, OptionalExtension};

use super::apply::event;
use super::StoreError;
use crate::domain::commands::Assignment;
use crate::domain::model::TicketId;
use crate::domain::time::Timestamp;

/// Gives ticket `id` to `to` (an agent: checked here too, so no path can
/// assign a customer) or to nobody. Returns the line of what changed, or
/// `None` when the ticket already was so. `via` ends the event's detail
/// (" (console)", " by al@example.test (portal)", or empty for mail).
pub fn set_assignee(
    conn: &Connection,
    now: Timestamp,
    id: TicketId,
    to: &Assignment,
    via: &str,
) -> Result<Option<String>, StoreError> {
    let was: Option<String> = conn
        .prepare_cached(
            "SELECT a.email FROM tickets t LEFT JOIN users a ON a.id = t.assignee_id WHERE t.id = ?1",
        )?
        .query_row([id.0], |r| r.get(0))
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "ticket {id} does not exist: see `ticketd tickets list`"
            ))
        })?;
    if was.as_deref() == to.email() {
        return Ok(None);
    }
    let agent_id: Option<i64> = match to {
        Assignment::Nobody => None,
        Assignment::To(email) => Some(
            conn.prepare_cached("SELECT id FROM users WHERE email = ?1 AND role = 'agent'")?
                .query_row([email], |r| r.get(0))
                .optional()?
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "{email} is not an agent, so ticket {id} was not assigned: agents come from support.agents or `ticketd users set-role {email} agent`"
                    ))
                })?,
        ),
    };
    conn.prepare_cached("UPDATE tickets SET assignee_id = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id.0, agent_id, now.0])?;
    let line = format!(
        "{} → {}",
        was.as_deref().unwrap_or("none"),
        to.email().unwrap_or("none")
    );
    event(conn, now, Some(id), "assigned", &format!("{line}{via}"))?;
    Ok(Some(line))
}
