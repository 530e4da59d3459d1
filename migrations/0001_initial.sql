-- The PostgreSQL store (LLMS_DATABASE_URL), version 1: everything the file store keeps
-- under LLMS_HOME, for any number of llms servers sharing one database.

-- The keyed documents: `users` (users.json), `keys` (credentials/keys.json) and each
-- provider's accounts (`github_auth`, ...). One row per entry, its value the JSON object
-- the file keeps under that name (llms.py's fields, legacy hashes and unknown fields
-- included); `position` keeps the file's order.
CREATE TABLE documents (
    store    text   NOT NULL,
    key      text   NOT NULL,
    position bigint NOT NULL,
    value    jsonb  NOT NULL,
    PRIMARY KEY (store, key)
);

-- One row per keyed document: its version, raised by every change (under this row's
-- lock, which serializes writers across instances) and announced on the channel
-- `llms_changes` as `store:version`.
CREATE TABLE document_versions (
    store   text   PRIMARY KEY,
    version bigint NOT NULL
);

-- Sessions, by the SHA-256 of the token (the token itself is never stored).
CREATE TABLE sessions (
    key        bytea            PRIMARY KEY CHECK (octet_length(key) = 32),
    provider   text             NOT NULL,
    username   text             NOT NULL,
    created    double precision NOT NULL,
    last_seen  double precision NOT NULL,
    expires    double precision NOT NULL,
    client_ip  text             NOT NULL DEFAULT '',
    user_agent text             NOT NULL DEFAULT '',
    binding    bigint
);
CREATE INDEX sessions_by_user ON sessions (provider, username);
CREATE INDEX sessions_by_expiry ON sessions (expires);

-- Failed sign-ins, one counter per username (folded) and per client address, shared by
-- every instance.
CREATE TABLE throttle (
    kind         text             NOT NULL CHECK (kind IN ('user', 'address')),
    subject      text             NOT NULL,
    failures     integer          NOT NULL,
    last_failure double precision NOT NULL,
    PRIMARY KEY (kind, subject)
);

-- Avatars, one per account name as the file store keeps them (`user/NAME/avatar.png`):
-- the PNG the upload was re-encoded to.
CREATE TABLE avatars (
    username text             PRIMARY KEY,
    image    bytea            NOT NULL,
    updated  double precision NOT NULL
);

-- The audit log: one row per event, from every instance.
CREATE TABLE audit_log (
    id     bigserial        PRIMARY KEY,
    time   double precision NOT NULL,
    record jsonb            NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (time);
