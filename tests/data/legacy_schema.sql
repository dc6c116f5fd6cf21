-- The platform schema as `create_all` made it before Alembic migrations (git f426b27), frozen
-- so tests/test_migrations.py can check that such a data dir is adopted and upgraded.
CREATE TABLE audit_log (
	id INTEGER NOT NULL,
	at DATETIME NOT NULL,
	actor_user_id INTEGER NOT NULL,
	action VARCHAR(32) NOT NULL,
	track_id VARCHAR(64) NOT NULL,
	remix_id VARCHAR(32),
	"before" JSON,
	"after" JSON,
	reason TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(actor_user_id) REFERENCES users (id),
	FOREIGN KEY(track_id) REFERENCES tracks (id)
);
CREATE TABLE remixes (
	id VARCHAR(32) NOT NULL,
	user_id INTEGER NOT NULL,
	track_id VARCHAR(64) NOT NULL,
	idempotency_key VARCHAR(200) NOT NULL,
	title VARCHAR(200) NOT NULL,
	document JSON NOT NULL,
	document_hash VARCHAR(64) NOT NULL,
	status VARCHAR(24) NOT NULL,
	reason TEXT,
	render_path VARCHAR(500),
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	canonical_hash VARCHAR(64),
	split JSON,
	disclosure JSON,
	loudness_lufs FLOAT,
	PRIMARY KEY (id),
	CONSTRAINT uq_remix_user_key UNIQUE (user_id, idempotency_key),
	FOREIGN KEY(user_id) REFERENCES users (id),
	FOREIGN KEY(track_id) REFERENCES tracks (id)
);
CREATE TABLE stem_rightsholders (
	id INTEGER NOT NULL,
	track_id VARCHAR(64) NOT NULL,
	stem_id VARCHAR(64) NOT NULL,
	party VARCHAR(200) NOT NULL,
	share_bp INTEGER NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_stem_party UNIQUE (track_id, stem_id, party),
	FOREIGN KEY(track_id) REFERENCES tracks (id) ON DELETE CASCADE
);
CREATE TABLE stems (
	track_id VARCHAR(64) NOT NULL,
	id VARCHAR(64) NOT NULL,
	name VARCHAR(120) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	path VARCHAR(500) NOT NULL,
	frames INTEGER NOT NULL,
	sample_rate INTEGER NOT NULL,
	channels INTEGER NOT NULL,
	duration FLOAT NOT NULL,
	size INTEGER NOT NULL,
	sha256 VARCHAR(64) NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (track_id, id),
	FOREIGN KEY(track_id) REFERENCES tracks (id) ON DELETE CASCADE
);
CREATE TABLE tokens (
	id INTEGER NOT NULL,
	token_hash VARCHAR(64) NOT NULL,
	kind VARCHAR(8) NOT NULL,
	user_id INTEGER NOT NULL,
	session_id VARCHAR(32) NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	revoked BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE TABLE tracks (
	id VARCHAR(64) NOT NULL,
	version INTEGER NOT NULL,
	title VARCHAR(200) NOT NULL,
	artist_user_id INTEGER NOT NULL,
	bpm FLOAT NOT NULL,
	"key" VARCHAR(32) NOT NULL,
	beats_per_bar INTEGER NOT NULL,
	first_beat FLOAT NOT NULL,
	sections JSON NOT NULL,
	policy JSON NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(artist_user_id) REFERENCES users (id)
);
CREATE TABLE users (
	id INTEGER NOT NULL,
	username VARCHAR(64) NOT NULL,
	display_name VARCHAR(120) NOT NULL,
	password_hash VARCHAR(255) NOT NULL,
	tier VARCHAR(16) NOT NULL,
	roles VARCHAR(64) NOT NULL,
	diagnostics BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE UNIQUE INDEX ix_tokens_token_hash ON tokens (token_hash);
CREATE INDEX ix_tokens_user_id ON tokens (user_id);
CREATE INDEX ix_tokens_session_id ON tokens (session_id);
CREATE INDEX ix_tracks_artist_user_id ON tracks (artist_user_id);
CREATE INDEX ix_remixes_created_at ON remixes (created_at);
CREATE INDEX ix_remixes_track_id ON remixes (track_id);
CREATE INDEX ix_remixes_status ON remixes (status);
CREATE INDEX ix_remixes_user_id ON remixes (user_id);
CREATE INDEX ix_remixes_canonical_hash ON remixes (canonical_hash);
CREATE INDEX ix_stem_rightsholders_track_id ON stem_rightsholders (track_id);
CREATE INDEX ix_audit_log_at ON audit_log (at);
CREATE INDEX ix_audit_log_track_id ON audit_log (track_id);
CREATE INDEX ix_audit_log_actor_user_id ON audit_log (actor_user_id);
