-- ticketd schema v9: full-text search over subjects and message texts
-- (DESIGN §9 `/desk?q=`; the portal's `?q=` searches public rows only), and
-- the indexes the desk's queue sorts by.

-- One row per message (its visible `text`, with its ticket's subject beside
-- it, so that "printer E-1042" finds the message about E-1042 on the ticket
-- called "Printer"), and one row per ticket for the subject alone (a ticket
-- is found by its subject even before, or without, any message).
--
-- rowid = ticket id << 32 | (message id & 0xFFFFFFFF); the subject's row has
-- 0 in the low half (message ids start at 1). The ticket a hit belongs to is
-- `rowid >> 32`: a search never reads the messages table, whose rows carry
-- whole mails. The low half is unique per ticket until a single ticket holds
-- two messages whose ids differ by a multiple of 2^32.
--
-- Public messages go in `body`, internal notes in `note`: the portal matches
-- `{subject body}` only, so a word that is only in a note never finds a
-- ticket for a customer.
--
-- Contentless (`content=''`): the texts are already in `messages`, the index
-- keeps only what a search needs; `contentless_delete=1` lets the triggers
-- delete by rowid without handing the old text back. `unicode61
-- remove_diacritics 2` folds case and accents (café = cafe) and splits on
-- punctuation (E-1042 → e 1042, ann@acme.test → ann acme test; the query
-- builder in store/search.rs quotes the same way, as phrases).
CREATE VIRTUAL TABLE search_index USING fts5(
    subject, body, note,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- A deleted message leaves no trace of its words in the index (retention,
-- `log clear`): deletes rewrite the index pages at once instead of leaving
-- tombstones for a later merge.
INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1);

-- The triggers keep the index in the transaction that writes the message:
-- store/apply.rs inserts a message and the index follows, or neither.
CREATE TRIGGER search_ticket_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO search_index (rowid, subject) VALUES (NEW.id << 32, NEW.subject);
END;

CREATE TRIGGER search_ticket_subject AFTER UPDATE OF subject ON tickets
WHEN OLD.subject IS NOT NEW.subject BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id << 32;
    INSERT INTO search_index (rowid, subject) VALUES (NEW.id << 32, NEW.subject);
    DELETE FROM search_index WHERE rowid IN (
        SELECT (NEW.id << 32) | (m.id & 4294967295) FROM messages m WHERE m.ticket_id = NEW.id);
    INSERT INTO search_index (rowid, subject, body, note)
        SELECT (NEW.id << 32) | (m.id & 4294967295), NEW.subject,
               CASE WHEN m.internal THEN NULL ELSE m.text END,
               CASE WHEN m.internal THEN m.text END
        FROM messages m WHERE m.ticket_id = NEW.id;
END;

-- A deleted ticket's messages go by ON DELETE CASCADE, which fires their
-- own delete trigger.
CREATE TRIGGER search_ticket_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id << 32;
END;

CREATE TRIGGER search_message_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_index (rowid, subject, body, note) VALUES (
        (NEW.ticket_id << 32) | (NEW.id & 4294967295),
        (SELECT t.subject FROM tickets t WHERE t.id = NEW.ticket_id),
        CASE WHEN NEW.internal THEN NULL ELSE NEW.text END,
        CASE WHEN NEW.internal THEN NEW.text END);
END;

-- Only the columns the index holds: housekeeping's `raw_id = NULL` costs nothing.
CREATE TRIGGER search_message_update AFTER UPDATE OF ticket_id, text, internal ON messages BEGIN
    DELETE FROM search_index WHERE rowid = (OLD.ticket_id << 32) | (OLD.id & 4294967295);
    INSERT INTO search_index (rowid, subject, body, note) VALUES (
        (NEW.ticket_id << 32) | (NEW.id & 4294967295),
        (SELECT t.subject FROM tickets t WHERE t.id = NEW.ticket_id),
        CASE WHEN NEW.internal THEN NULL ELSE NEW.text END,
        CASE WHEN NEW.internal THEN NEW.text END);
END;

CREATE TRIGGER search_message_delete AFTER DELETE ON messages BEGIN
    DELETE FROM search_index WHERE rowid = (OLD.ticket_id << 32) | (OLD.id & 4294967295);
END;

-- What is already there.
INSERT INTO search_index (rowid, subject) SELECT id << 32, subject FROM tickets;
INSERT INTO search_index (rowid, subject, body, note)
    SELECT (m.ticket_id << 32) | (m.id & 4294967295), t.subject,
           CASE WHEN m.internal THEN NULL ELSE m.text END,
           CASE WHEN m.internal THEN m.text END
    FROM messages m JOIN tickets t ON t.id = m.ticket_id;
INSERT INTO search_index (search_index) VALUES ('optimize');

-- The queue (`/desk`): newest activity first, over everything and by
-- status, priority and category (by assignee: tickets_assignee_updated,
-- schema v8; by organization: tickets_org_created, schema v7, then a sort).
-- The category index also lists the categories one seek each.
CREATE INDEX tickets_updated ON tickets(updated_at);
CREATE INDEX tickets_status_updated ON tickets(status, updated_at);
CREATE INDEX tickets_priority_updated ON tickets(priority, updated_at);
CREATE INDEX tickets_category_updated ON tickets(category, updated_at);
