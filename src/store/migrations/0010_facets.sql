-- ticketd schema v10: what the desk's queue shows above its rows — how many
-- tickets have each status, and which categories and organizations tickets
-- have — kept as counts by triggers, in the transaction that changes the
-- ticket. Counting 100,000 tickets (or seeking 500 organizations) on every
-- page view was a third of the queue's database time under load
-- (docs/desk-bench.md); reading these rows costs a few microseconds.
--
-- One row per (facet, value): `status` (every status a ticket has had; a
-- count may fall to 0), `category` and `org` (NULL is no value, not
-- counted). A value whose count is 0 is kept and skipped by the readers.
CREATE TABLE ticket_facets (
    facet   TEXT NOT NULL CHECK (facet IN ('status', 'category', 'org')),
    value   TEXT NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (facet, value)
) WITHOUT ROWID;

CREATE TRIGGER facets_ticket_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_facets (facet, value, tickets) VALUES ('status', NEW.status, 1)
        ON CONFLICT (facet, value) DO UPDATE SET tickets = tickets + 1;
    INSERT INTO ticket_facets (facet, value, tickets)
        SELECT 'category', NEW.category, 1 WHERE NEW.category IS NOT NULL
        ON CONFLICT (facet, value) DO UPDATE SET tickets = tickets + 1;
    INSERT INTO ticket_facets (facet, value, tickets)
        SELECT 'org', NEW.org, 1 WHERE NEW.org IS NOT NULL
        ON CONFLICT (facet, value) DO UPDATE SET tickets = tickets + 1;
END;

-- ON DELETE CASCADE and foreign-key actions fire this too.
CREATE TRIGGER facets_ticket_delete AFTER DELETE ON tickets BEGIN
    UPDATE ticket_facets SET tickets = tickets - 1
        WHERE (facet = 'status' AND value = OLD.status)
           OR (facet = 'category' AND value = OLD.category)
           OR (facet = 'org' AND value = OLD.org);
END;

CREATE TRIGGER facets_ticket_status AFTER UPDATE OF status ON tickets
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE ticket_facets SET tickets = tickets - 1 WHERE facet = 'status' AND value = OLD.status;
    INSERT INTO ticket_facets (facet, value, tickets) VALUES ('status', NEW.status, 1)
        ON CONFLICT (facet, value) DO UPDATE SET tickets = tickets + 1;
END;

CREATE TRIGGER facets_ticket_category AFTER UPDATE OF category ON tickets
WHEN OLD.category IS NOT NEW.category BEGIN
    UPDATE ticket_facets SET tickets = tickets - 1 WHERE facet = 'category' AND value = OLD.category;
    INSERT INTO ticket_facets (facet, value, tickets)
        SELECT 'category', NEW.category, 1 WHERE NEW.category IS NOT NULL
        ON CONFLICT (facet, value) DO UPDATE SET tickets = tickets + 1;
END;

CREATE TRIGGER facets_ticket_org AFTER UPDATE OF org ON tickets
WHEN OLD.org IS NOT NEW.org BEGIN
    UPDATE ticket_facets SET tickets = tickets - 1 WHERE facet = 'org' AND value = OLD.org;
    INSERT INTO ticket_facets (facet, value, tickets)
        SELECT 'org', NEW.org, 1 WHERE NEW.org IS NOT NULL
        ON CONFLICT (facet, value) DO UPDATE SET tickets = tickets + 1;
END;

-- What is already there.
INSERT INTO ticket_facets (facet, value, tickets)
    SELECT 'status', status, count(*) FROM tickets GROUP BY status;
INSERT INTO ticket_facets (facet, value, tickets)
    SELECT 'category', category, count(*) FROM tickets WHERE category IS NOT NULL GROUP BY category;
INSERT INTO ticket_facets (facet, value, tickets)
    SELECT 'org', org, count(*) FROM tickets WHERE org IS NOT NULL GROUP BY org;
