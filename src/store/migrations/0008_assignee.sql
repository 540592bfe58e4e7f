-- ticketd schema v8: assignment (DESIGN §1, §9). A ticket has at most one
-- assignee, an agent; agent alerts go to the assignee when there is one.
ALTER TABLE tickets ADD COLUMN assignee_id INTEGER REFERENCES users(id);
-- The desk's `?assignee=` filter, newest activity first.
CREATE INDEX tickets_assignee_updated ON tickets(assignee_id, updated_at);
