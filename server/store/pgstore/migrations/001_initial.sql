-- Schema 1 of coffre's PostgreSQL store (see pgstore.go).
--
-- Ids are text compared byte by byte (COLLATE "C"), so that lists come out
-- in the order the embedded store gives. A NULL time is the zero time.

CREATE TABLE organisations (
	id                   text COLLATE "C" PRIMARY KEY,
	name                 text NOT NULL,
	bootstrap_token_hash bytea, -- NULL once bootstrapped
	root_verify_key      bytea, -- NULL until bootstrapped
	created_at           timestamptz,
	bootstrapped_at      timestamptz
);

-- One row per log, holding its head: the organisation log (log_id '') is
-- made with its organisation, a vault's log (log_id = the vault id) by its
-- first append. Every append locks this row first (log.go).
CREATE TABLE log_heads (
	org_id   text COLLATE "C" NOT NULL REFERENCES organisations (id),
	log_id   text COLLATE "C" NOT NULL,
	position bigint NOT NULL CHECK (position >= 0),
	hash     bytea,
	PRIMARY KEY (org_id, log_id)
);

CREATE TABLE log_entries (
	org_id      text COLLATE "C" NOT NULL,
	log_id      text COLLATE "C" NOT NULL,
	position    bigint NOT NULL CHECK (position >= 1),
	prev_hash   bytea,
	hash        bytea,
	data        bytea NOT NULL,
	received_at timestamptz,
	PRIMARY KEY (org_id, log_id, position),
	FOREIGN KEY (org_id, log_id) REFERENCES log_heads (org_id, log_id)
);

CREATE TABLE invitations (
	org_id     text COLLATE "C" NOT NULL REFERENCES organisations (id),
	id         text COLLATE "C" NOT NULL,
	token_hash bytea NOT NULL,
	kind       text NOT NULL,
	email      text NOT NULL,
	user_id    text NOT NULL,
	profile    text NOT NULL,
	created_by text NOT NULL,
	created_at timestamptz,
	expires_at timestamptz,
	state      text NOT NULL,
	attempts   integer NOT NULL,
	PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX invitations_token_hash ON invitations (org_id, token_hash);

CREATE TABLE connections (
	org_id       text COLLATE "C" NOT NULL REFERENCES organisations (id),
	device_id    text COLLATE "C" NOT NULL,
	connected_at timestamptz NOT NULL,
	address      text NOT NULL,
	PRIMARY KEY (org_id, device_id, connected_at)
);
CREATE INDEX connections_by_time ON connections (org_id, connected_at, device_id);
