-- Schema 4: the replay cache shared by the server processes (nonces.go).
-- Logged, unlike the relay: after a crash of PostgreSQL the nonces of the
-- last minutes must still be there, or a request recorded before the
-- crash could be replayed after it. Rows older than twice the clock skew
-- allowed are deleted; such requests are refused as too old anyway.
CREATE TABLE request_nonces (
	device_id text COLLATE "C" NOT NULL,
	nonce     bytea NOT NULL,
	at        timestamptz NOT NULL,
	PRIMARY KEY (device_id, nonce)
);
CREATE INDEX request_nonces_at ON request_nonces (at);
