-- ticketd schema v5: what a message proved (DESIGN §3 "Trust"), where it came
-- from, and password links minted only when their mail is composed (§4).

-- `email`, `web` or `console`; `verified`: the sender proved the From address.
ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT 'email'
    CHECK (source IN ('email', 'web', 'console'));
ALTER TABLE messages ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;

-- A password_setup row names the token row its link will use; the token
-- itself is minted when the mail is composed and exists only in that mail.
ALTER TABLE outbox ADD COLUMN token_id INTEGER REFERENCES password_tokens(id) ON DELETE SET NULL;
