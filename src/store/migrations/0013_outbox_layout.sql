-- ticketd schema v13: a notification keeps the facts its HTML alternative
-- is drawn from (delivery::html_body::Facts, JSON), not the HTML itself.
-- The HTML was 3 KB of markup around the text's 400 bytes, rendered inside
-- the ingest transaction: about a third of the database's bytes, written
-- twice (WAL and checkpoint). The courier draws it when it composes the
-- mail, from these facts and the stored text, the same markup as before.
-- Rows queued before keep their body_html and are sent with it.
ALTER TABLE outbox ADD COLUMN layout TEXT;
