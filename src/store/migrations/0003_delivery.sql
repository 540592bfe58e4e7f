-- The budget all automated mail shares (domain/budget.rs): one token bucket
-- per key, "to:<email>" or "ticket:<id>".
CREATE TABLE mail_budget (
    key    TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at     INTEGER NOT NULL
) WITHOUT ROWID;
