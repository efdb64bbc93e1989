-- Schema 2: organisation quotas, set by the operator (0: none), and the
-- storage each organisation uses.

ALTER TABLE organisations
	ADD COLUMN storage_limit bigint NOT NULL DEFAULT 0,
	ADD COLUMN user_limit    integer NOT NULL DEFAULT 0,
	ADD COLUMN used_bytes    bigint NOT NULL DEFAULT 0;
