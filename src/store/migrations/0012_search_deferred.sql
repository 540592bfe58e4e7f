-- ticketd schema v12: a batch of mail feeds the search index once, at its
-- end, in rowid order (store/search_feed.rs).
--
-- Fed row by row from the triggers, FTS5 wrote its pending terms out as a
-- tiny index segment over and over inside a batch: whenever a rowid came
-- lower than the one before (a reply to an older ticket), and at the start
-- of every statement that opens a statement journal (any insert into a table
-- with triggers), which a batch does several times a mail. Those segments
-- then cost merges. While this table holds its row (inside the batch's
-- transaction only: it is deleted before the commit, so no other connection
-- ever sees it), the triggers leave the rows created after `tickets_after`
-- and `messages_after` alone, and the batch indexes them at its end.
CREATE TABLE search_deferred (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- The highest ticket and message ids before the batch began.
    tickets_after INTEGER NOT NULL,
    messages_after INTEGER NOT NULL
);

DROP TRIGGER search_ticket_insert;
DROP TRIGGER search_ticket_subject;
DROP TRIGGER search_ticket_delete;
DROP TRIGGER search_message_insert;
DROP TRIGGER search_message_update;
DROP TRIGGER search_message_delete;

CREATE TRIGGER search_ticket_insert AFTER INSERT ON tickets
WHEN NOT EXISTS (SELECT 1 FROM search_deferred) BEGIN
    INSERT INTO search_index (rowid, subject) VALUES (NEW.id << 32, NEW.subject);
END;

-- A ticket of the batch's own is indexed at its end, with its last subject
-- and all its messages; so are the batch's own messages of an older ticket.
CREATE TRIGGER search_ticket_subject AFTER UPDATE OF subject ON tickets
WHEN OLD.subject IS NOT NEW.subject
 AND NOT EXISTS (SELECT 1 FROM search_deferred WHERE NEW.id > tickets_after) BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id << 32;
    INSERT INTO search_index (rowid, subject) VALUES (NEW.id << 32, NEW.subject);
    DELETE FROM search_index WHERE rowid IN (
        SELECT (NEW.id << 32) | (m.id & 4294967295) FROM messages m WHERE m.ticket_id = NEW.id
           AND m.id <= (SELECT coalesce(max(messages_after), m.id) FROM search_deferred));
    INSERT INTO search_index (rowid, subject, body, note)
        SELECT (NEW.id << 32) | (m.id & 4294967295), NEW.subject,
               CASE WHEN m.internal THEN NULL ELSE m.text END,
               CASE WHEN m.internal THEN m.text END
        FROM messages m WHERE m.ticket_id = NEW.id
           AND m.id <= (SELECT coalesce(max(messages_after), m.id) FROM search_deferred);
END;

CREATE TRIGGER search_ticket_delete AFTER DELETE ON tickets
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE OLD.id > tickets_after) BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id << 32;
END;

CREATE TRIGGER search_message_insert AFTER INSERT ON messages
WHEN NOT EXISTS (SELECT 1 FROM search_deferred) BEGIN
    INSERT INTO search_index (rowid, subject, body, note) VALUES (
        (NEW.ticket_id << 32) | (NEW.id & 4294967295),
        (SELECT t.subject FROM tickets t WHERE t.id = NEW.ticket_id),
        CASE WHEN NEW.internal THEN NULL ELSE NEW.text END,
        CASE WHEN NEW.internal THEN NEW.text END);
END;

-- A message of the batch's own, or one in a ticket of the batch's own, is
-- indexed at the batch's end.
CREATE TRIGGER search_message_update AFTER UPDATE OF ticket_id, text, internal ON messages
WHEN NOT EXISTS (SELECT 1 FROM search_deferred
                 WHERE OLD.id > messages_after OR OLD.ticket_id > tickets_after) BEGIN
    DELETE FROM search_index WHERE rowid = (OLD.ticket_id << 32) | (OLD.id & 4294967295);
    INSERT INTO search_index (rowid, subject, body, note)
        SELECT (NEW.ticket_id << 32) | (NEW.id & 4294967295),
               (SELECT t.subject FROM tickets t WHERE t.id = NEW.ticket_id),
               CASE WHEN NEW.internal THEN NULL ELSE NEW.text END,
               CASE WHEN NEW.internal THEN NEW.text END
        WHERE NOT EXISTS (SELECT 1 FROM search_deferred WHERE NEW.ticket_id > tickets_after);
END;

CREATE TRIGGER search_message_delete AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM search_deferred
                 WHERE OLD.id > messages_after OR OLD.ticket_id > tickets_after) BEGIN
    DELETE FROM search_index WHERE rowid = (OLD.ticket_id << 32) | (OLD.id & 4294967295);
END;
