-- ticketd schema v1. Times are Unix seconds (UTC); JSON columns hold arrays/objects.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id                INTEGER PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,
    name              TEXT,
    role              TEXT NOT NULL DEFAULT 'member'
                      CHECK (role IN ('no_access', 'member', 'admin', 'agent')),
    org               TEXT,
    password_hash     TEXT,
    bouncing_since    INTEGER,
    bounce_detail     TEXT,
    refused_notice_at INTEGER,
    created_at        INTEGER NOT NULL
);

CREATE TABLE tickets (
    id           INTEGER PRIMARY KEY,
    subject      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'pending', 'solved', 'closed')),
    priority     TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category     TEXT,
    requester_id INTEGER NOT NULL REFERENCES users(id),
    org          TEXT,
    fields       TEXT NOT NULL DEFAULT '{}',
    follow_up_of INTEGER REFERENCES tickets(id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    solved_at    INTEGER
);
CREATE INDEX users_role ON users(role);
CREATE INDEX tickets_requester_created ON tickets(requester_id, created_at);
CREATE INDEX tickets_status ON tickets(status);

CREATE TABLE watchers (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (ticket_id, user_id)
) WITHOUT ROWID;

-- The raw bytes of every mail received, kept whole.
CREATE TABLE raw_mail (
    id     INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    bytes  BLOB NOT NULL
);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    author_id  INTEGER REFERENCES users(id),
    message_id TEXT,
    date       INTEGER NOT NULL,
    text       TEXT NOT NULL,
    full_text  TEXT NOT NULL,
    internal   INTEGER NOT NULL DEFAULT 0,
    raw_id     INTEGER REFERENCES raw_mail(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_ticket ON messages(ticket_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    -- set when the file was not stored (over the size limit)
    refused      TEXT
);
CREATE INDEX attachments_message ON attachments(message_id);

-- Threading rule 1: every Message-ID ticketd stored or sent, and its ticket.
CREATE TABLE thread_ids (
    message_id TEXT PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Every mail processed, by Message-ID (or raw hash): a mail seen again is a duplicate.
CREATE TABLE seen (
    key       TEXT PRIMARY KEY,
    outcome   TEXT NOT NULL,
    ticket_id INTEGER,
    at        INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX events_ticket ON events(ticket_id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    message_id      TEXT NOT NULL UNIQUE,
    in_reply_to     TEXT,
    refs            TEXT,
    ticket_id       INTEGER REFERENCES tickets(id) ON DELETE SET NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE password_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX password_tokens_user ON password_tokens(user_id);

CREATE TABLE quarantine (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    message_id TEXT,
    sender     TEXT,
    subject    TEXT,
    raw_id     INTEGER NOT NULL REFERENCES raw_mail(id)
);
