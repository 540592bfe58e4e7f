-- Lookups housekeeping and the status line make: which messages and
-- quarantine entries still use a raw mail, which attachments share a file,
-- and today's tickets.
CREATE INDEX messages_raw ON messages(raw_id) WHERE raw_id IS NOT NULL;
CREATE INDEX quarantine_raw ON quarantine(raw_id);
CREATE INDEX attachments_sha256 ON attachments(sha256);
CREATE INDEX tickets_created ON tickets(created_at);
