-- Schema 3: what lets several server processes share the database (see
-- relay.go and blocks.go). Events go through LISTEN/NOTIFY and need no
-- table (bus.go).

-- The enrolment relay: one box per invitation ("organisation/invitation"),
-- holding its current attempt, the attempts aborted, and the messages of
-- the current attempt. Like the in-memory relay it replaces, it is
-- transient: the tables are UNLOGGED (emptied if PostgreSQL crashes, not
-- copied to standbys), and an enrolment that loses its box starts over.
CREATE UNLOGGED TABLE relay_boxes (
	box     text COLLATE "C" PRIMARY KEY,
	attempt bigint NOT NULL DEFAULT 0 CHECK (attempt >= 0),
	aborted bigint[] NOT NULL DEFAULT '{}',
	touched timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX relay_boxes_touched ON relay_boxes (touched);

CREATE UNLOGGED TABLE relay_messages (
	box     text COLLATE "C" NOT NULL REFERENCES relay_boxes (box) ON DELETE CASCADE,
	attempt bigint NOT NULL,
	side    bigint NOT NULL,
	step    bigint NOT NULL,
	payload bytea NOT NULL,
	PRIMARY KEY (box, attempt, side, step)
);

-- Encrypted blocks, for installs that keep them in the database rather
-- than in a directory. A block is written once. Its bytes are ciphertext,
-- which does not compress: EXTERNAL keeps them out of line uncompressed.
CREATE TABLE blocks (
	org_id   text COLLATE "C" NOT NULL,
	vault_id text COLLATE "C" NOT NULL,
	block_id text COLLATE "C" NOT NULL,
	data     bytea NOT NULL,
	PRIMARY KEY (org_id, vault_id, block_id)
);
ALTER TABLE blocks ALTER COLUMN data SET STORAGE EXTERNAL;
