-- ticketd schema v7: the portal (DESIGN §8): sign-in sessions, and indexes
-- for the one access rule's lists.

-- A session is a random token in the browser's cookie; only its SHA-256 is
-- kept. `form_token` is the per-session token every POST carries.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    form_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- "Tickets I watch" and "my organization's tickets", newest first.
CREATE INDEX watchers_user ON watchers(user_id, ticket_id);
CREATE INDEX tickets_org_created ON tickets(org, created_at);
-- An org admin's people.
CREATE INDEX users_org ON users(org);
-- The portal's first lines of a ticket: its messages in order, public ones.
CREATE INDEX messages_ticket_public ON messages(ticket_id, internal, id);
