-- Schema 5: block garbage collection (SPEC.md §7.5, blockrefs.go).

-- How many entries of each vault log declared the blocks they reference.
-- A log with more entries than that (entries from before this schema, or
-- from an older client) is never collected: existing vaults start at 0.
ALTER TABLE log_heads ADD COLUMN declared bigint NOT NULL DEFAULT 0 CHECK (declared >= 0);

-- The blocks of each vault that an entry declared (collected false), or
-- that a collection condemned (collected true). A row never changes: a
-- referenced block is never collected, a collected one never referenced.
CREATE TABLE vault_blocks (
	org_id    text COLLATE "C" NOT NULL,
	vault_id  text COLLATE "C" NOT NULL,
	block_id  text COLLATE "C" NOT NULL,
	collected boolean NOT NULL,
	PRIMARY KEY (org_id, vault_id, block_id)
);

-- When each block of the blocks table was stored: a collection keeps the
-- blocks younger than its grace period. Blocks stored before this schema
-- count from now.
ALTER TABLE blocks ADD COLUMN stored_at timestamptz NOT NULL DEFAULT now();
