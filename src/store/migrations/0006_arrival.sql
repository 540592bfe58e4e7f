-- ticketd schema v6: throttling by arrival time and by person (DESIGN §3).

-- When the mail that opened the ticket arrived (IMAP INTERNALDATE, set by
-- the receiving server; pipe mode: the time of ingest). Draining a backlog
-- of old mail must not look like a burst.
ALTER TABLE tickets ADD COLUMN arrived_at INTEGER;
UPDATE tickets SET arrived_at = created_at;
CREATE INDEX tickets_requester_arrived ON tickets(requester_id, arrived_at);

-- The address a plus-address stands for (ann+x@acme.test → ann@acme.test):
-- throttles count per person.
ALTER TABLE users ADD COLUMN base_email TEXT;
UPDATE users SET base_email = CASE
    WHEN instr(substr(email, 1, instr(email, '@')), '+') > 0
    THEN substr(email, 1, instr(email, '+') - 1) || substr(email, instr(email, '@'))
    ELSE email END;
CREATE INDEX users_base_email ON users(base_email);

-- A digest of the mail's body beside its Message-ID: the same id on a
-- different mail (a forger's copy sent first) is not its duplicate.
ALTER TABLE seen ADD COLUMN digest TEXT;
