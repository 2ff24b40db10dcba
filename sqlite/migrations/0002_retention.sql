-- 0002_retention: retention (Store.PurgeBefore) walks messages oldest first.
CREATE INDEX messages_created ON messages (created_at);
