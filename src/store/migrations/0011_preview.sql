-- ticketd schema v11: the start of a ticket's first public message, kept on
-- the ticket. The portal's lists show it as the "Description" of every row;
-- reading it from the messages (an index seek and a message row per listed
-- ticket) was a third of an org admin's list in SQLite (docs/portal-bench.md).
--
-- 400 characters, as the lists read: the description they show is cut from
-- it (store::portal::description). Messages are never edited, so the first
-- public message's start never changes once it is set; a ticket whose first
-- messages are internal notes gets it from its first public one.
ALTER TABLE tickets ADD COLUMN preview TEXT;

UPDATE tickets SET preview = (
    SELECT substr(m.text, 1, 400) FROM messages m
    WHERE m.ticket_id = tickets.id AND m.internal = 0 ORDER BY m.id LIMIT 1);

CREATE TRIGGER preview_message_insert AFTER INSERT ON messages
WHEN NEW.internal = 0 BEGIN
    UPDATE tickets SET preview = substr(NEW.text, 1, 400)
    WHERE id = NEW.ticket_id AND preview IS NULL;
END;
