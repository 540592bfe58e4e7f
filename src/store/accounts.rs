//! Accounts as the portal needs them: signing in, sessions (only their
//! token's hash is stored), and the single-use password links.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::apply::event;
use super::StoreError;
use crate::attachments::sha256_hex;
use crate::domain::access::Viewer;
use crate::domain::model::{normalize_email, Role};
use crate::domain::time::Timestamp;

/// An account as signing in needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUser {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub org: Option<String>,
    /// The Argon2id PHC string; `None` until a password link was used.
    pub password_hash: Option<String>,
}

/// The user behind a live session, as the store knows them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub org: Option<String>,
    pub session_id: i64,
}

impl SessionUser {
    /// The one access rule's view of this user.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            email: self.email.clone(),
            role: self.role,
            org: self.org.clone(),
        }
    }
}

/// The SHA-256 (hex) a session or password token is stored as.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

pub(super) fn role_of(s: &str) -> Role {
    // The column's CHECK admits only the four words; anything else is no one.
    s.parse().unwrap_or(Role::NoAccess)
}

fn login_user(r: &Row<'_>) -> rusqlite::Result<LoginUser> {
    Ok(LoginUser {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: role_of(&r.get::<_, String>(3)?),
        org: r.get(4)?,
        password_hash: r.get(5)?,
    })
}

const USER_COLUMNS: &str = "id, email, name, role, org, password_hash";

/// The account for `email` (lower-cased here), if there is one.
pub fn user_for_login(conn: &Connection, email: &str) -> Result<Option<LoginUser>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = ?1"
        ))?
        .query_row([normalize_email(email)], login_user)
        .optional()?)
}

pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<LoginUser>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], login_user)
        .optional()?)
}

/// The access rule's view of the account `email`, if there is one.
pub fn viewer(conn: &Connection, email: &str) -> Result<Option<Viewer>, StoreError> {
    Ok(user_for_login(conn, email)?.map(|u| Viewer {
        email: u.email,
        role: u.role,
        org: u.org,
    }))
}

// ---------------------------------------------------------------- sessions

/// Starts a session; the caller made the token (and keeps it only in the
/// cookie) and the form token. Returns the session's id.
pub fn create_session(
    conn: &Connection,
    user_id: i64,
    token_hash: &str,
    form_token: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, form_token, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    )?
    .execute(params![token_hash, user_id, form_token, now.0, expires_at.0])?;
    Ok(conn.last_insert_rowid())
}

/// The user of a live session and its form token. An expired session, and
/// any session of a user who is now `no_access`, is no session.
pub fn session_user(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(SessionUser, String)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.email, u.name, u.role, u.org, s.id, s.form_token
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.role <> 'no_access'",
        )?
        .query_row(params![token_hash, now.0], |r| {
            Ok((
                SessionUser {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    name: r.get(2)?,
                    role: role_of(&r.get::<_, String>(3)?),
                    org: r.get(4)?,
                    session_id: r.get(5)?,
                },
                r.get(6)?,
            ))
        })
        .optional()?)
}

/// Records that the session was used now.
pub fn touch(conn: &Connection, token_hash: &str, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1")?
        .execute(params![token_hash, now.0])?;
    Ok(())
}

/// Ends one session (sign-out); returns whether there was one.
pub fn delete_session(conn: &Connection, token_hash: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
        .execute([token_hash])?
        > 0)
}

/// Ends every session of `user_id` but `keep` (a password change keeps the
/// session it was made in); returns how many ended.
pub fn delete_other_sessions(
    conn: &Connection,
    user_id: i64,
    keep: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR token_hash <> ?2)",
        )?
        .execute(params![user_id, keep])?)
}

/// Forgets expired sessions (housekeeping); returns how many.
pub fn delete_expired_sessions(conn: &Connection, now: Timestamp) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
        .execute([now.0])?)
}

/// A new password for a signed-in user (`/account/password`, the old one
/// checked by the caller): every other session ends.
pub fn change_password(
    conn: &Connection,
    user_id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let email: String = conn
        .prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1 RETURNING email")?
        .query_row(params![user_id, password_hash], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no user {user_id}")))?;
    let ended = delete_other_sessions(conn, user_id, keep_session)?;
    event(
        conn,
        now,
        None,
        "password_changed",
        &format!("{email} (portal); {ended} other session(s) ended"),
    )
}

// ---------------------------------------------------------- password links

/// A presented token's live row: unused, unexpired, and never a row still
/// reserved for a mail not yet composed (`reserved:` hashes match no token).
fn live_token(
    conn: &Connection,
    token: &str,
    now: Timestamp,
) -> Result<Option<(i64, i64, String, Role)>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT p.id, u.id, u.email, u.role FROM password_tokens p JOIN users u ON u.id = p.user_id
             WHERE p.token_hash = ?1 AND p.used_at IS NULL AND p.expires_at > ?2
               AND p.token_hash NOT LIKE 'reserved:%'",
        )?
        .query_row(
            params![hash_token(&token.to_ascii_lowercase()), now.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, role_of(&r.get::<_, String>(3)?))),
        )
        .optional()?
        .filter(|(_, _, _, role)| *role != Role::NoAccess))
}

/// Whose password a link sets, if it still works (`GET /password/setup`
/// shows the form only then); consumes nothing.
pub fn token_email(
    conn: &Connection,
    token: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    Ok(live_token(conn, token, now)?.map(|(_, _, email, _)| email))
}

/// Sets the password a link was sent for: the token and every other unused
/// one of that user are used up, and every session of theirs ends (the web
/// signs them in afresh). Unknown, used, expired or reserved: `TokenInvalid`,
/// nothing written. Returns the user's id.
pub fn set_password_with_token(
    conn: &Connection,
    token: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let Some((_, user_id, email, _)) = live_token(conn, token, now)? else {
        return Err(StoreError::TokenInvalid);
    };
    conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?
        .execute(params![user_id, password_hash])?;
    conn.prepare_cached(
        "UPDATE password_tokens SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
    )?
    .execute(params![user_id, now.0])?;
    delete_other_sessions(conn, user_id, None)?;
    event(
        conn,
        now,
        None,
        "password_set",
        &format!("{email} (password link)"),
    )?;
    Ok(user_id)
}
